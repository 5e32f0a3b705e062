/**
 * Small local files gathered into batches, each cut by one worker as one job
 * with one reply (core/pipeline/file-batch-work.ts): the main thread's cost
 * per small file — messages, promises, the bounded queue — is paid once per
 * batch. Each file still resolves or fails on its own, with the error it would
 * have had as a job of its own; a failed file also fails its batch's task, so
 * the run stops as it did.
 *
 * A batch goes out when full, or when `flush` is called: before anyone waits
 * for the ids of a file still gathered (the end of a source's walk).
 */
import { FailsafeError, isErrorCode } from '../errors.js';
import type { BoundedTasks } from '../pipeline/bounded-tasks.js';
import type { BatchFile, FileBatchResult } from '../pipeline/file-batch-work.js';
import { asBuffer } from '../pipeline/segment-work.js';
import type { SegmentWorkers } from '../pipeline/segment-workers.js';
import { FileChunks, type LocalEntry } from './file-jobs.js';
import type { ChunkWriter } from '../pack/chunk-writer.js';

/** Files up to this size go into batches: one chunk each at the default sizes (min 256 KiB). */
export const SMALL_FILE = 128 << 10;
/** A batch's limits: the first reached sends it (its sealed bytes travel in one buffer of about this size). */
const BATCH_FILES = 32;
const BATCH_BYTES = 1 << 20;

interface Gathered {
  entry: LocalEntry;
  resolve: (ids: Buffer[]) => void;
  reject: (err: unknown) => void;
}

export class FileBatches {
  #files: Gathered[] = [];
  #bytes = 0;
  #source = '';

  constructor(
    readonly tasks: BoundedTasks,
    readonly workers: () => SegmentWorkers,
    readonly writer: ChunkWriter,
    readonly stored: (id: Buffer, length: number) => void,
  ) {}

  /** Gathers a small file; resolves once it is gathered (or its batch queued), with its ids to come. */
  async add(entry: LocalEntry, source: string): Promise<{ ids: Promise<Buffer[]> }> {
    if (this.#source !== source) await this.flush();
    this.#source = source;
    const ids = new Promise<Buffer[]>((resolve, reject) => this.#files.push({ entry, resolve, reject }));
    this.#bytes += entry.size;
    if (this.#files.length >= BATCH_FILES || this.#bytes >= BATCH_BYTES) await this.flush();
    return { ids };
  }

  /** Sends the files gathered so far as one batch, once the bounded queue has room. */
  async flush(): Promise<void> {
    const files = this.#files;
    if (files.length === 0) return;
    [this.#files, this.#bytes] = [[], 0];
    const source = `source "${this.#source}"`;
    await this.tasks.add(async () => {
      let reply: FileBatchResult;
      try {
        reply = await this.workers().chunkFiles({ files: files.map(({ entry }) => ({ path: entry.localFile.path, size: entry.size })), source });
      } catch (err) {
        for (const file of files) file.reject(err);
        throw err;
      }
      const done = await Promise.allSettled(files.map((file, i) => this.#take(file, reply.files[i]!, reply.sealed)));
      const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  /** One file of a batch's reply: its chunks counted and stored, then its ids or its own error. */
  async #take({ entry, resolve, reject }: Gathered, file: BatchFile, sealed: Uint8Array): Promise<void> {
    const chunks = new FileChunks(this.writer, this.stored);
    for (const { id, length, sealed: at } of file.chunks) {
      chunks.take(asBuffer(id), length, at ? asBuffer(sealed).subarray(at.at, at.at + at.length) : undefined);
    }
    try {
      if ('error' in file) {
        await chunks.settle();
        const { code, message } = file.error;
        throw code !== undefined && isErrorCode(code) ? new FailsafeError(code, message) : new Error(message);
      }
      resolve(await chunks.done(entry, file.result));
    } catch (err) {
      reject(err);
      throw err;
    }
  }
}
