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
import {
  sealedSlotBytes,
  type ChunkHashRequest,
  type ChunkHashResult,
  type ChunkingSetup,
  type ChunkOpenRequest,
  type FileChunkingSetup,
  type SealedSlots,
} from './chunk-work.js';
import type { ChunkRunRequest, RestoreSetup } from './chunk-run-work.js';
import type { FileChunkMessage, FileChunkRequest, FileChunkResult } from './file-chunk-work.js';
import type { FileBatchRequest, FileBatchResult } from './file-batch-work.js';
import { startSpares, takeSpare } from '../threads/spare-threads.js';

const WORKER_FILE = workerFile('./segment-worker.js', import.meta.url);

type Pending = {
  op: WorkerRequest['op'];
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  onChunk?: (chunk: FileChunkMessage, lane: number) => void;
};
type Job = { message: WorkerRequest; pending: Pending; transfer: ArrayBuffer[] };

/**
 * File jobs a worker holds at once: the one it cuts and the next, already in
 * its queue. A small file takes a worker less time than the round trip
 * through this thread (its result, then the next job posted), which left the
 * workers idle 60-80% of the time on a folder of small files.
 */
const FILE_JOBS_AHEAD = 2;

/** File jobs and batches of small files: a worker may hold FILE_JOBS_AHEAD of them. */
const cutsFiles = (op: WorkerRequest['op']): boolean => op === 'chunk-file' || op === 'chunk-files';

export class SegmentWorkers {
  readonly size: number;
  readonly #idle: Worker[] = [];
  /** What each working thread holds, in the order it answers (it takes its messages one at a time). */
  readonly #busy = new Map<Worker, Pending[]>();
  readonly #queue: Job[] = [];
  readonly #all: Worker[] = [];
  /** Cell 0: stop; cell `lane + 1`: a file job's credits for sealed chunks in flight (core/pipeline/file-chunk-work.ts). */
  readonly #credits: Int32Array;
  #sealed: SealedSlots | undefined;
  #nextId = 0;
  #failure: Error | undefined;
  #closing = false;

  /** Starts `size` threads now for the next pools to take (core/threads/spare-threads.ts). */
  static startAhead(size: number): void {
    startSpares(WORKER_FILE, size);
  }

  constructor(spec: SegmentCodecSpec, size = availableParallelism()) {
    this.size = Math.max(1, size);
    this.#credits = new Int32Array(new SharedArrayBuffer(4 * (this.size + 1)));
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

  /**
   * Gives every thread the slots chunks are cut into and the id key, once, before the first `chunk`; with `files`,
   * what `chunkFile` needs, and each worker's `credits` (sealed chunks it may have on their way to a pack).
   */
  shareChunking(setup: ChunkingSetup, files?: Omit<FileChunkingSetup, 'credits' | 'sealed'>, credits = 1): void {
    // Per worker, not per job: a worker holds two file jobs, and sealed chunks of the first may still be out.
    for (let cell = 1; cell < this.#credits.length; cell++) Atomics.store(this.#credits, cell, credits);
    // Room for the largest chunk grown by compression (zstd's bound is 1/256 more) and sealing; a larger one is moved.
    const slotBytes = files ? files.sizes.max + Math.ceil(files.sizes.max / 64) + (64 << 10) : 0;
    this.#sealed = files ? { lanes: this.#all.map(() => new SharedArrayBuffer(credits * slotBytes)), slots: credits, slotBytes } : undefined;
    const full: ChunkingSetup = { ...setup, ...(files ? { files: { ...files, credits: this.#credits, sealed: this.#sealed } } : {}) };
    for (const worker of this.#all) worker.postMessage({ op: 'chunking', setup: full } satisfies WorkerSetup);
  }

  /**
   * Cuts a whole local file in a worker (needs `shareChunking` with `files`):
   * `onChunk` hears of every chunk in file order, before the result; each
   * chunk that carries sealed bytes holds one of its worker's credits
   * (`shareChunking`) until `credit(lane)` gives it back.
   */
  chunkFile(request: Omit<FileChunkRequest, 'lane'>, onChunk: (chunk: FileChunkMessage, lane: number) => void): Promise<FileChunkResult> {
    return this.#run({ id: 0, op: 'chunk-file', request: { ...request, lane: -1 } }, [], onChunk) as Promise<FileChunkResult>;
  }

  /** Cuts several small local files in one worker, answered at once (core/pipeline/file-batch-work.ts); held like a file job. */
  chunkFiles(request: FileBatchRequest): Promise<FileBatchResult> {
    return this.#run({ id: 0, op: 'chunk-files', request }, []) as Promise<FileBatchResult>;
  }

  /** The sealed bytes a file job's chunk left in its worker's slot; valid until its credit is given back. */
  sealedBytes(lane: number, slot: number, length: number): Buffer {
    if (!this.#sealed) throw new FailsafeError('E_INTERNAL', 'a chunk was sealed into a slot no file chunking setup shared');
    return sealedSlotBytes(this.#sealed, lane, slot, length);
  }

  credit(lane: number): void {
    Atomics.add(this.#credits, lane + 1, 1);
    Atomics.notify(this.#credits, lane + 1);
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
    const transfer = sealed instanceof Uint8Array && ownsWholeBuffer(sealed) ? [sealed.buffer as ArrayBuffer] : [];
    return (this.#run({ id: 0, op: 'open-chunk', request }, transfer) as Promise<Uint8Array>).then(asBuffer);
  }

  /** Gives every thread a restore's shared plaintext buffers and the id key, once, before the first `openRun`. */
  shareRestoring(setup: RestoreSetup): void {
    for (const worker of this.#all) worker.postMessage({ op: 'restoring', setup } satisfies WorkerSetup);
  }

  /** A run of stored chunks of one pack opened into a shared slot, each checked against its id; their plaintexts' lengths. */
  openRun(request: ChunkRunRequest): Promise<Uint32Array> {
    const { sealed } = request;
    const transfer = sealed instanceof Uint8Array && ownsWholeBuffer(sealed) ? [sealed.buffer as ArrayBuffer] : [];
    return this.#run({ id: 0, op: 'open-run', request }, transfer) as Promise<Uint32Array>;
  }

  async close(): Promise<void> {
    this.#closing = true;
    // A worker waiting for credits wakes and stops.
    Atomics.store(this.#credits, 0, 1);
    for (let cell = 1; cell < this.#credits.length; cell++) Atomics.notify(this.#credits, cell);
    this.#fail(new FailsafeError('E_ABORTED', 'the segment workers were stopped'));
    await Promise.all(this.#all.map((w) => w.terminate()));
  }

  #run(message: WorkerRequest, transfer: ArrayBuffer[], onChunk?: Pending['onChunk']): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const pending: Pending = { op: message.op, resolve, reject, ...(onChunk ? { onChunk } : {}) };
      this.#queue.push({ message: { ...message, id: this.#nextId++ }, pending, transfer });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const job = this.#queue[0]!;
      const worker = this.#idle.pop() ?? (cutsFiles(job.message.op) ? this.#cuttingWithRoom() : undefined);
      if (!worker) return;
      this.#queue.shift();
      const held = this.#busy.get(worker) ?? [];
      held.push(job.pending);
      this.#busy.set(worker, held);
      if (job.message.op === 'chunk-file') job.message.request.lane = this.#all.indexOf(worker);
      worker.postMessage(job.message, job.transfer);
    }
  }

  /** The working thread holding the fewest file jobs, and nothing else, when it can take one more. */
  #cuttingWithRoom(): Worker | undefined {
    let found: Worker | undefined;
    let fewest = FILE_JOBS_AHEAD;
    for (const [worker, held] of this.#busy) {
      if (held.length < fewest && held.every((p) => cutsFiles(p.op))) [found, fewest] = [worker, held.length];
    }
    return found;
  }

  #settle(worker: Worker, reply: WorkerReply): void {
    const held = this.#busy.get(worker);
    const pending = held?.[0];
    if ('chunk' in reply) {
      pending?.onChunk?.(reply.chunk, this.#all.indexOf(worker));
      return;
    }
    held?.shift();
    if (!held?.length) {
      this.#busy.delete(worker);
      this.#idle.push(worker);
    }
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
    for (const held of this.#busy.values()) for (const pending of held) pending.reject(this.#failure);
    this.#busy.clear();
    for (const job of this.#queue.splice(0)) job.pending.reject(this.#failure);
  }
}
