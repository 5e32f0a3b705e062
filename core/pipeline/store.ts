/**
 * The store stage: writes each sealed segment to every target, with at most
 * `concurrency` segments in flight (a semaphore, as tus' S3 store bounds its
 * part uploads). A target whose put fails is dropped: its puts in flight are
 * aborted and the others carry on, so one dead disk costs only its own copy.
 * The stage fails only when no target is left (or on cancellation); then it
 * aborts every put in flight and waits for them, so no background promise is
 * left running.
 */
import { Writable } from 'node:stream';
import type { Storage } from '../repository/storage.js';

export interface SealedSegment {
  index: number;
  key: string;
  data: Buffer;
  /** SHA-256 (hex) of `data` when the pipeline computed it anyway: the targets may send it for the store to verify. */
  dataSha256?: string;
}

export class StoreStage<T extends SealedSegment = SealedSegment> extends Writable {
  readonly #live: Map<Storage, AbortController>;
  readonly #dropped = new Map<Storage, Error>();
  readonly #concurrency: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #onStored: (segment: T) => void;
  readonly #signal: AbortSignal | undefined;
  #error: Error | undefined;

  constructor(targets: Storage[], concurrency: number, onStored: (segment: T) => void, signal?: AbortSignal) {
    super({ objectMode: true, highWaterMark: 0 });
    this.#live = new Map(targets.map((target) => [target, new AbortController()]));
    this.#concurrency = Math.max(1, concurrency);
    this.#onStored = onStored;
    this.#signal = signal;
    signal?.addEventListener('abort', () => this.#abortAll(signal.reason), { once: true });
  }

  /** Targets that stored every segment so far. */
  get liveTargets(): Storage[] {
    return [...this.#live.keys()];
  }

  /** Targets dropped after a failed put, with the error that dropped them. */
  get droppedTargets(): Map<Storage, Error> {
    return new Map(this.#dropped);
  }

  override _write(segment: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#error) return callback(this.#error);
    const puts = [...this.#live].map(([target, controller]) =>
      target
        .put(segment.key, segment.data, { signal: controller.signal, ...(segment.dataSha256 ? { sha256: segment.dataSha256 } : {}) })
        .catch((err: Error) => this.#drop(target, err)),
    );
    const task = Promise.all(puts)
      .then(() => {
        if (!this.#error) this.#onStored(segment);
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
    if (error) this.#abortAll(error);
    void Promise.all(this.#inFlight).then(() => callback(error));
  }

  #drop(target: Storage, err: Error): void {
    if (this.#error) return;
    // A cancelled run is not a target failure: the whole stage stops.
    if (this.#signal?.aborted) {
      this.#error = err;
      this.#abortAll(err);
      return;
    }
    const controller = this.#live.get(target);
    // Already dropped: this is one of its puts we aborted.
    if (!controller) return;
    this.#live.delete(target);
    this.#dropped.set(target, err);
    controller.abort(err);
    if (this.#live.size === 0) {
      this.#error = this.#dropped.values().next().value!;
      // Fail the pipeline now rather than at the next write: the stages upstream wait for window permits that only
      // stored segments give back, so that write might never come (a full disk left a backup waiting forever).
      this.destroy(this.#error);
    }
  }

  #abortAll(reason: unknown): void {
    for (const controller of this.#live.values()) controller.abort(reason);
    if (this.#signal?.aborted) this.#error ??= reason instanceof Error ? reason : new Error(String(reason));
  }
}
