/**
 * The buffers a restore's decompressed segments live in, allocated once and
 * used again: a segment-sized allocation per segment made the main thread's
 * V8 run a full collection every few tens of MB (0.3 s on the main thread
 * and 0.8 s on V8's helper threads for 1 GiB), and its garbage was most of a
 * restore's peak memory. Shared memory, so the worker threads write the
 * plaintext straight into them.
 *
 * `acquire` hands buffers out in call order, so segments requested in index
 * order get theirs in that order and the one the reader waits for is never
 * starved by later ones: with at least two buffers the pool cannot deadlock.
 */
export class SegmentPool {
  readonly #size: number;
  readonly #limit: number;
  readonly #free: Buffer[] = [];
  readonly #owned = new Set<ArrayBufferLike>();
  readonly #waiting: ((buffer: Buffer) => void)[] = [];

  constructor(count: number, size: number) {
    this.#limit = Math.max(2, count);
    this.#size = Math.max(1, size);
  }

  acquire(): Promise<Buffer> {
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#owned.size < this.#limit) {
      const buffer = Buffer.from(new SharedArrayBuffer(this.#size));
      this.#owned.add(buffer.buffer);
      return Promise.resolve(buffer);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Gives back the buffer `view` lies in; anything else (or a buffer already free) is ignored. */
  release(view: Uint8Array): void {
    if (!this.#owned.has(view.buffer) || this.#free.some((b) => b.buffer === view.buffer)) return;
    const buffer = Buffer.from(view.buffer, 0, this.#size);
    const next = this.#waiting.shift();
    if (next) next(buffer);
    else this.#free.push(buffer);
  }
}
