/**
 * A pool of worker threads doing the CPU work on segments (hashing,
 * compression, encryption and their inverses; core/pipeline/segment-work.ts).
 * The main thread then only reads, writes and keeps order: on a 2-core
 * machine it is otherwise the bottleneck while the second core idles.
 *
 * Segments travel without copies: plaintext segments live in shared memory
 * (SharedArrayBuffer) and results come back as transferred buffers. Each
 * worker takes one request at a time; requests queue in the pool, so the
 * callers' own windows bound the memory. `close` terminates every thread;
 * a pool is per run, so no thread outlives its backup or restore.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FailsafeError, isErrorCode } from '../errors.js';
import { workerFile } from '../threads/worker-file.js';
import { asBuffer, ownsWholeBuffer, type OpenJob, type SealRequest, type SealResult, type SegmentCodecSpec } from './segment-work.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './segment-worker.js';
import type { ChunkHashRequest, ChunkHashResult, ChunkingSetup, ChunkOpenRequest } from './chunk-work.js';
import { startSpares, takeSpare } from '../threads/spare-threads.js';

const WORKER_FILE = workerFile('./segment-worker.js', import.meta.url);

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };
type Job = { message: WorkerRequest; pending: Pending; transfer: ArrayBuffer[] };

export class SegmentWorkers {
  readonly size: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending>();
  readonly #queue: Job[] = [];
  readonly #all: Worker[] = [];
  #nextId = 0;
  #failure: Error | undefined;
  #closing = false;

  /** Starts `size` threads now for the next pools to take (core/threads/spare-threads.ts). */
  static startAhead(size: number): void {
    startSpares(WORKER_FILE, size);
  }

  constructor(spec: SegmentCodecSpec, size = availableParallelism()) {
    this.size = Math.max(1, size);
    for (let i = 0; i < this.size; i++) {
      const worker = takeSpare(WORKER_FILE) ?? new Worker(WORKER_FILE);
      // The key crosses as a copy.
      worker.postMessage({ op: 'setup', spec } satisfies WorkerSetup);
      worker.on('message', (reply: WorkerReply) => this.#settle(worker, reply));
      worker.on('error', (err) => this.#fail(new FailsafeError('E_INTERNAL', `a segment worker failed: ${err.message}`, { cause: err })));
      worker.on('exit', (code) => {
        if (!this.#closing) this.#fail(new FailsafeError('E_INTERNAL', `a segment worker exited (code ${code})`));
      });
      this.#all.push(worker);
      this.#idle.push(worker);
    }
  }

  /** Hash, compress, encrypt and hash one plaintext segment (its buffer should be shared memory). */
  seal(request: SealRequest): Promise<SealResult> {
    return (this.#run({ id: 0, op: 'seal', request }, []) as Promise<SealResult>).then((result) =>
      'data' in result ? { ...result, data: asBuffer(result.data) } : result,
    );
  }

  /**
   * Check, decrypt, decompress and check one stored segment: its buffer is
   * moved to the worker, or the worker reads its `file` (a missing one is
   * E_NOT_FOUND, as from the storage facade).
   */
  open(request: OpenJob): Promise<Buffer> {
    const { stored } = request;
    const transfer = stored && ownsWholeBuffer(stored) ? [stored.buffer as ArrayBuffer] : [];
    return (this.#run({ id: 0, op: 'open', request }, transfer) as Promise<Uint8Array>).then(asBuffer);
  }

  /** Gives every thread the slots chunks are cut into and the id key, once, before the first `chunk`. */
  shareChunking(setup: ChunkingSetup): void {
    for (const worker of this.#all) worker.postMessage({ op: 'chunking', setup } satisfies WorkerSetup);
  }

  /** A chunk's keyed id; with `sealAs` (its id) its compressed and sealed bytes too, under the pool's cipher. */
  chunk(request: ChunkHashRequest): Promise<{ id: Buffer; sealed?: Buffer }> {
    return (this.#run({ id: 0, op: 'chunk', request }, []) as Promise<ChunkHashResult>).then(({ id, sealed }) => ({
      id: asBuffer(id),
      ...(sealed ? { sealed: asBuffer(sealed) } : {}),
    }));
  }

  /** A stored chunk decrypted, decompressed and checked against its id (E_CHECKSUM when it does not match). */
  openChunk(request: ChunkOpenRequest): Promise<Buffer> {
    const { sealed } = request;
    const transfer = ownsWholeBuffer(sealed) ? [sealed.buffer as ArrayBuffer] : [];
    return (this.#run({ id: 0, op: 'open-chunk', request }, transfer) as Promise<Uint8Array>).then(asBuffer);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#fail(new FailsafeError('E_ABORTED', 'the segment workers were stopped'));
    await Promise.all(this.#all.map((w) => w.terminate()));
  }

  #run(message: WorkerRequest, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#queue.push({ message: { ...message, id: this.#nextId++ }, pending: { resolve, reject }, transfer });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop()!;
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job.pending);
      worker.postMessage(job.message, job.transfer);
    }
  }

  #settle(worker: Worker, reply: WorkerReply): void {
    const pending = this.#busy.get(worker);
    this.#busy.delete(worker);
    this.#idle.push(worker);
    if (pending) {
      if ('error' in reply) {
        const { code, message } = reply.error;
        pending.reject(code !== undefined && isErrorCode(code) ? new FailsafeError(code, message) : new Error(message));
      } else pending.resolve(reply.result);
    }
    this.#dispatch();
  }

  /** A crashed thread fails everything waiting: no caller is left hanging on a reply that cannot come. */
  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#busy.values()) pending.reject(this.#failure);
    this.#busy.clear();
    for (const job of this.#queue.splice(0)) job.pending.reject(this.#failure);
  }
}
