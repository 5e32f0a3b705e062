/**
 * Cuts a byte stream into segments of exactly `size` bytes (the last one
 * shorter). Each segment is copied once into its buffer. With a window,
 * a segment is emitted only once a permit is free (core/pipeline/window.ts).
 * A segment's buffer handed back with `recycle` once the segment is stored is
 * filled again: allocating a fresh one per segment feeds V8's garbage
 * collector, whose full collections are triggered by external memory.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { SegmentWindow } from './window.js';

/** Segment buffers live in shared memory, so the worker threads (core/pipeline/segment-workers.ts) read them without a copy. */
export function allocateSegment(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/** Shared-memory buffers of one size, taken and given back: in a steady state a backup allocates none. */
export class SharedBuffers {
  readonly size: number;
  readonly #free: Buffer[] = [];

  constructor(size: number) {
    this.size = size;
  }

  take(): Buffer {
    return this.#free.pop() ?? allocateSegment(this.size);
  }

  give(buffer: Buffer): void {
    this.#free.push(buffer);
  }
}

export interface PlainSegment {
  index: number;
  data: Buffer;
}

export class Segmenter extends Transform {
  readonly #size: number;
  #buffer: Buffer;
  #filled = 0;
  #index = 0;
  readonly #window: SegmentWindow | undefined;
  readonly #emitted = new Map<number, Buffer>();
  readonly #free: Buffer[] = [];

  constructor(size: number, window?: SegmentWindow) {
    super({ readableObjectMode: true, readableHighWaterMark: 0, writableHighWaterMark: 1024 * 1024 });
    this.#size = size;
    this.#buffer = allocateSegment(size);
    this.#window = window;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#take(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#filled > 0 || this.#index === 0) this.#emit().then(() => callback(), callback);
    else callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#window?.cancel(error ?? new Error('segmenter closed'));
    callback(error);
  }

  async #take(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.#size - this.#filled);
      chunk.copy(this.#buffer, this.#filled, offset, offset + n);
      this.#filled += n;
      offset += n;
      if (this.#filled === this.#size) await this.#emit();
    }
  }

  async #emit(): Promise<void> {
    await this.#window?.acquire();
    const segment: PlainSegment = { index: this.#index++, data: this.#buffer.subarray(0, this.#filled) };
    this.#emitted.set(segment.index, this.#buffer);
    this.push(segment);
    this.#buffer = this.#free.pop() ?? allocateSegment(this.#size);
    this.#filled = 0;
  }

  /** Segment `index` is stored and nothing reads its bytes any more: its buffer can hold a later segment. */
  recycle(index: number): void {
    const buffer = this.#emitted.get(index);
    if (buffer === undefined) return;
    this.#emitted.delete(index);
    this.#free.push(buffer);
  }
}
