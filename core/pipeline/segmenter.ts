/**
 * Cuts a byte stream into segments of exactly `size` bytes (the last one
 * shorter). Each segment is copied once into its own buffer; backpressure
 * holds with a readable high-water mark of one segment.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface PlainSegment {
  index: number;
  data: Buffer;
}

export class Segmenter extends Transform {
  readonly #size: number;
  #buffer: Buffer;
  #filled = 0;
  #index = 0;

  constructor(size: number) {
    super({ readableObjectMode: true, readableHighWaterMark: 1, writableHighWaterMark: 1024 * 1024 });
    this.#size = size;
    this.#buffer = Buffer.allocUnsafe(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.#size - this.#filled);
      chunk.copy(this.#buffer, this.#filled, offset, offset + n);
      this.#filled += n;
      offset += n;
      if (this.#filled === this.#size) this.#emit();
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#filled > 0 || this.#index === 0) this.#emit();
    callback();
  }

  #emit(): void {
    const segment: PlainSegment = { index: this.#index++, data: this.#buffer.subarray(0, this.#filled) };
    this.push(segment);
    this.#buffer = Buffer.allocUnsafe(this.#size);
    this.#filled = 0;
  }
}
