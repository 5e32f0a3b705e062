/**
 * SHA-256 of large restored files on a thread of its own. Checking every
 * file on the main thread took ~0.75 s of its time per GiB, and made it the
 * limit of a restore that does not wait for the disk (1 GiB: 2.26-2.61 s,
 * 1.82-1.96 s without the hashing). The slices are views of the pooled
 * segment buffers, shared with the thread rather than copied; a buffer goes
 * back to the pool only once every slice of it was hashed (`whenHashed`).
 * Other slices (not shared memory) are copied into the message.
 */
import { Worker } from 'node:worker_threads';
import { FailsafeError } from '../errors.js';
import { workerFile } from '../threads/worker-file.js';
import type { HashReply, HashRequest } from './hash-worker.js';
import { dropSparesOf, startSpares, takeSpare } from '../threads/spare-threads.js';

const WORKER_FILE = workerFile('./hash-worker.js', import.meta.url);
const WORKER_OPTIONS = { resourceLimits: { maxYoungGenerationSizeMb: 2 } };

export class FileHasher {
  readonly #worker: Worker;
  #nextFile = 0;
  /** The buffer of each update not yet hashed, in the order sent (the thread answers in that order); undefined when copied. */
  readonly #unhashed: (ArrayBufferLike | undefined)[] = [];
  /** Updates not yet hashed, per shared buffer: the buffer waits for them. */
  readonly #pending = new Map<ArrayBufferLike, number>();
  readonly #whenFree = new Map<ArrayBufferLike, (() => void)[]>();
  readonly #digests = new Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>();
  #failure: Error | undefined;

  /** Starts the thread now for the next hasher to take (core/threads/spare-threads.ts). */
  static startAhead(): void {
    startSpares(WORKER_FILE, 1, WORKER_OPTIONS);
  }

  /** Stops the thread `startAhead` started, when the run turns out not to need it: an idle thread still holds 10+ MB. */
  static dropAhead(): Promise<void> {
    return dropSparesOf(WORKER_FILE);
  }

  constructor() {
    this.#worker = takeSpare(WORKER_FILE) ?? new Worker(WORKER_FILE, WORKER_OPTIONS);
    this.#worker.on('message', (reply: HashReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#fail(new FailsafeError('E_INTERNAL', `the hashing thread failed: ${err.message}`, { cause: err })));
    this.#worker.unref();
  }

  /** A new file's id for `update` and `digest`. */
  begin(): number {
    return this.#nextFile++;
  }

  update(file: number, bytes: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    const shared = bytes.buffer instanceof SharedArrayBuffer ? bytes.buffer : undefined;
    if (shared) this.#pending.set(shared, (this.#pending.get(shared) ?? 0) + 1);
    this.#unhashed.push(shared);
    this.#worker.postMessage({ op: 'update', file, bytes } satisfies HashRequest);
  }

  /** The file's SHA-256 (hex) once every update before it was hashed. */
  digest(file: number): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#digests.set(file, { resolve, reject });
      this.#worker.postMessage({ op: 'digest', file } satisfies HashRequest);
    });
  }

  /** Calls `then` once no slice of `buffer` waits to be hashed (at once if none does). */
  whenHashed(buffer: ArrayBufferLike, then: () => void): void {
    if (!this.#pending.has(buffer) || this.#failure) return then();
    const waiting = this.#whenFree.get(buffer);
    if (waiting) waiting.push(then);
    else this.#whenFree.set(buffer, [then]);
  }

  async close(): Promise<void> {
    this.#fail(new FailsafeError('E_ABORTED', 'the hashing thread was stopped'));
    await this.#worker.terminate();
  }

  #settle(reply: HashReply): void {
    if (reply.op === 'digest') {
      const pending = this.#digests.get(reply.file);
      this.#digests.delete(reply.file);
      pending?.resolve(reply.hex);
      return;
    }
    const buffer = this.#unhashed.shift();
    if (buffer === undefined) return;
    const left = this.#pending.get(buffer)! - 1;
    if (left > 0) {
      this.#pending.set(buffer, left);
      return;
    }
    this.#pending.delete(buffer);
    const waiting = this.#whenFree.get(buffer);
    this.#whenFree.delete(buffer);
    for (const then of waiting ?? []) then();
  }

  /** Nothing waits forever on a thread that is gone: digests fail, buffers are let go. */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#digests.values()) pending.reject(this.#failure);
    this.#digests.clear();
    const waiting = [...this.#whenFree.values()].flat();
    this.#whenFree.clear();
    this.#pending.clear();
    this.#unhashed.length = 0;
    for (const then of waiting) then();
  }
}
