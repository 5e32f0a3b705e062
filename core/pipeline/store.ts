/**
 * The store stage: writes each sealed segment to every target, with at most
 * `concurrency` segments in flight (a semaphore, as tus' S3 store bounds its
 * part uploads). On error or destroy it aborts the puts in flight and waits
 * for them, so no background promise is left running.
 */
import { Writable } from 'node:stream';
import type { Storage } from '../storage.js';

export interface SealedSegment {
  index: number;
  key: string;
  data: Buffer;
}

export class StoreStage<T extends SealedSegment = SealedSegment> extends Writable {
  readonly #targets: Storage[];
  readonly #concurrency: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #onStored: (segment: T) => void;
  #error: Error | undefined;

  constructor(targets: Storage[], concurrency: number, onStored: (segment: T) => void, signal?: AbortSignal) {
    super({ objectMode: true, highWaterMark: 0 });
    this.#targets = targets;
    this.#concurrency = Math.max(1, concurrency);
    this.#onStored = onStored;
    signal?.addEventListener('abort', () => this.#abort.abort(signal.reason), { once: true });
  }

  override _write(segment: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#error) return callback(this.#error);
    const task = Promise.all(this.#targets.map((target) => target.put(segment.key, segment.data, { signal: this.#abort.signal })))
      .then(() => this.#onStored(segment))
      .catch((err: Error) => {
        this.#error ??= err;
        this.#abort.abort(err);
      })
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
    if (this.#inFlight.size < this.#concurrency) return callback();
    void Promise.race(this.#inFlight).then(() => callback(this.#error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    void Promise.all(this.#inFlight).then(() => callback(this.#error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) this.#abort.abort(error);
    void Promise.all(this.#inFlight).then(() => callback(error));
  }
}
