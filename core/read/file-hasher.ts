/**
 * SHA-256s of large file bodies on a thread of their own. A restore checks
 * every file against the manifest; on the main thread that was the largest
 * single cost of a restore (0.5-0.7 s a GiB) while the main thread is what
 * parses the archive and writes the files. Bodies are slices of the segments'
 * shared memory (core/pipeline/segment-work.ts openSegment), so they cross
 * without a copy; anything else is copied into shared memory first.
 *
 * At most `MAX_IN_FLIGHT` bytes are posted and not yet hashed: the thread's
 * queue holds whole segments alive, so without this bound a slow hashing
 * thread would let memory grow with a large file.
 */
import { Worker } from 'node:worker_threads';
import { FailsafeError } from '../errors.js';
import { workerFile } from '../threads/worker-file.js';
import type { HashReply, HashRequest } from './hash-worker.js';

const MAX_IN_FLIGHT = 16 << 20;

export interface BodyHash {
  update(data: Buffer): Promise<void> | undefined;
  digest(): Promise<string>;
}

export class FileHasher {
  readonly #worker: Worker;
  readonly #digests = new Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>();
  #nextId = 0;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #failure: Error | undefined;

  constructor() {
    this.#worker = new Worker(workerFile('./hash-worker.js', import.meta.url));
    this.#worker.on('message', (reply: HashReply) => {
      if ('ack' in reply) {
        this.#inFlight -= reply.ack;
        if (this.#inFlight <= MAX_IN_FLIGHT / 2) this.#wake();
        return;
      }
      this.#digests.get(reply.id)?.resolve(reply.hex);
      this.#digests.delete(reply.id);
    });
    this.#worker.on('error', (err) => this.#fail(new FailsafeError('E_INTERNAL', `the hashing thread failed: ${err.message}`, { cause: err })));
    this.#worker.on('exit', (code) => this.#fail(new FailsafeError('E_INTERNAL', `the hashing thread exited (code ${code})`)));
  }

  /** A new SHA-256; its updates must be posted in order, and its digest asked once. */
  begin(): BodyHash {
    const id = this.#nextId++;
    return {
      update: (data) => this.#update(id, data),
      digest: () => this.#digest(id),
    };
  }

  async close(): Promise<void> {
    this.#fail(new FailsafeError('E_ABORTED', 'the hashing thread was stopped'));
    await this.#worker.terminate();
  }

  /** Undefined when more may be posted at once; else a promise that resolves once the thread has caught up. */
  #update(id: number, data: Buffer): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    if (data.length === 0) return undefined;
    this.#worker.postMessage({ id, data: inSharedMemory(data) } satisfies HashRequest);
    this.#inFlight += data.length;
    if (this.#inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise<void>((resolve) => (this.#drained = resolve)).then(() => {
      if (this.#failure) throw this.#failure;
    });
  }

  #digest(id: number): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#digests.set(id, { resolve, reject });
      this.#worker.postMessage({ id, digest: true } satisfies HashRequest);
    });
  }

  #wake(): void {
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }

  /** A dead thread fails whatever waits on it: no restore is left hanging. */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#digests.values()) pending.reject(this.#failure);
    this.#digests.clear();
    this.#wake();
  }
}

function inSharedMemory(data: Buffer): Uint8Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const copy = new Uint8Array(new SharedArrayBuffer(data.length));
  copy.set(data);
  return copy;
}
