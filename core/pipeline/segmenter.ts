/**
 * The segment buffers the tar stream is written into, in place: the writer
 * asks for `room()` in the current segment, puts bytes there (a file read
 * lands there directly) and `advance`s. A full segment is emitted on
 * `segments`, a Readable of `PlainSegment`s in order, once the window
 * (core/pipeline/window.ts) has a permit for it; every segment has exactly
 * `size` bytes but the last. A segment's buffer handed back with `recycle`
 * once the segment is sealed is filled again: allocating a fresh one per
 * segment feeds V8's garbage collector, whose full collections are
 * triggered by external memory.
 */
import { Readable } from 'node:stream';
import type { SegmentWindow } from './window.js';

/** Segment buffers live in shared memory, so the worker threads (core/pipeline/segment-workers.ts) read them without a copy. */
export function allocateSegment(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/**
 * Shared-memory buffers of one size, taken and given back: in a steady state
 * a backup allocates none. With a `limit`, `acquire` waits for a buffer
 * given back once that many exist.
 */
export class SharedBuffers {
  readonly size: number;
  readonly #limit: number;
  readonly #free: Buffer[] = [];
  readonly #waiting: { resolve: (buffer: Buffer) => void; reject: (err: Error) => void }[] = [];
  #count = 0;
  #cancelled: Error | undefined;

  constructor(size: number, limit = Infinity) {
    this.size = size;
    this.#limit = Math.max(1, limit);
  }

  take(): Buffer {
    const free = this.#free.pop();
    if (free) return free;
    this.#count++;
    return allocateSegment(this.size);
  }

  acquire(): Promise<Buffer> {
    if (this.#cancelled) return Promise.reject(this.#cancelled);
    if (this.#free.length > 0 || this.#count < this.#limit) return Promise.resolve(this.take());
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  give(buffer: Buffer): void {
    const next = this.#waiting.shift();
    if (next) next.resolve(buffer);
    else this.#free.push(buffer);
  }

  /** Fails every waiting and future `acquire`: nothing stays pending after the writer stopped. */
  cancel(reason: Error): void {
    this.#cancelled ??= reason;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#cancelled);
  }
}

export interface PlainSegment {
  index: number;
  data: Buffer;
}

export interface Room {
  buffer: Buffer;
  offset: number;
  length: number;
}

export class Segmenter {
  readonly segments: Readable;
  readonly #size: number;
  readonly #window: SegmentWindow | undefined;
  #buffer: Buffer;
  #filled = 0;
  #index = 0;
  readonly #emitted = new Map<number, Buffer>();
  readonly #buffers: SharedBuffers;
  #wanted: (() => void) | undefined;
  #closed: Error | undefined;

  /** `buffers`: plaintext buffers at most (the one being filled and those emitted but not yet recycled). */
  constructor(size: number, window?: SegmentWindow, buffers = Infinity) {
    this.#size = size;
    this.#window = window;
    this.#buffers = new SharedBuffers(size, buffers);
    this.#buffer = this.#buffers.take();
    this.segments = new Readable({
      objectMode: true,
      highWaterMark: 1,
      read: () => {
        const wanted = this.#wanted;
        this.#wanted = undefined;
        wanted?.();
      },
      destroy: (error, callback) => {
        this.#close(error ?? new Error('segments closed'));
        callback(error);
      },
    });
  }

  /** Bytes written so far: the tar offset of whatever is written next. */
  get position(): number {
    return this.#index * this.#size + this.#filled;
  }

  /** Free bytes of the current segment (never 0: a full segment is emitted first). */
  async room(): Promise<Room> {
    if (this.#closed) throw this.#closed;
    if (this.#filled === this.#size) await this.#emit();
    return { buffer: this.#buffer, offset: this.#filled, length: this.#size - this.#filled };
  }

  /** `n` bytes of the last `room()` now hold data. */
  advance(n: number): void {
    this.#filled += n;
  }

  /** Copies `bytes` in (headers, and the bodies of sources that only give a stream). */
  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length;) {
      const room = await this.room();
      const n = Math.min(room.length, bytes.length - done);
      room.buffer.set(bytes.subarray(done, done + n), room.offset);
      this.advance(n);
      done += n;
    }
  }

  async zeros(count: number): Promise<void> {
    for (let done = 0; done < count;) {
      const room = await this.room();
      const n = Math.min(room.length, count - done);
      room.buffer.fill(0, room.offset, room.offset + n);
      this.advance(n);
      done += n;
    }
  }

  /** Emits the last, partial segment and ends `segments`. */
  async end(): Promise<void> {
    if (this.#filled > 0 || this.#index === 0) await this.#emit(true);
    this.segments.push(null);
  }

  /**
   * Ends `segments` after the segments already emitted, without the partial
   * one: the writer failed, and what it emitted can still be stored (a resumed
   * backup reuses it). The writer's error reaches the caller by another way.
   */
  abandon(error: Error): void {
    if (this.#closed) return;
    this.#close(error);
    this.segments.push(null);
  }

  /** Nothing reads segment `index`'s bytes any more (it is sealed): its buffer can hold a later segment. */
  recycle(index: number): void {
    const buffer = this.#emitted.get(index);
    if (buffer === undefined) return;
    this.#emitted.delete(index);
    this.#buffers.give(buffer);
  }

  /** `last`: nothing is written after it, so no buffer is waited for. */
  async #emit(last = false): Promise<void> {
    await this.#window?.acquire();
    if (this.#closed) throw this.#closed;
    const segment: PlainSegment = { index: this.#index++, data: this.#buffer.subarray(0, this.#filled) };
    this.#emitted.set(segment.index, this.#buffer);
    this.#filled = 0;
    // A segment emitted now may be the one a buffer comes back from: it is pushed before waiting for one.
    const next = last ? undefined : this.#buffers.acquire();
    const pushed = this.segments.push(segment);
    if (next) this.#buffer = await next;
    // Without a window, the reader's pace holds the writer back.
    if (!pushed && !this.#window) await new Promise<void>((resolve) => (this.#wanted = resolve));
  }

  #close(error: Error): void {
    this.#closed ??= error;
    this.#window?.cancel(this.#closed);
    this.#buffers.cancel(this.#closed);
    const wanted = this.#wanted;
    this.#wanted = undefined;
    wanted?.();
  }
}
