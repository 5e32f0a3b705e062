/**
 * The main thread's half of a local file cut in a segment worker
 * (core/pipeline/file-chunk-work.ts): each chunk the worker reports is
 * counted, and a new one, sealed there, goes into a pack; the worker's
 * credit for it comes back once it is in. Resolves with the file's chunk
 * ids in order, after the source has had its say on a file that changed
 * while read.
 */
import type { LocalFile, SourceEntry } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { ChunkWriter } from '../pack/chunk-writer.js';
import type { FileChunkResult } from '../pipeline/file-chunk-work.js';
import { changeOf } from '../pipeline/local-file.js';
import { asBuffer } from '../pipeline/segment-work.js';
import type { SegmentWorkers } from '../pipeline/segment-workers.js';

export type LocalEntry = SourceEntry & { localFile: LocalFile };

export async function chunkFileInWorker(
  workers: SegmentWorkers,
  writer: ChunkWriter,
  stored: (id: Buffer, length: number) => void,
  entry: LocalEntry,
  source: string,
): Promise<Buffer[]> {
  const chunks = new FileChunks(writer, stored);
  const job = workers.chunkFile({ path: entry.localFile.path, size: entry.size, source: `source "${source}"` }, (chunk, lane) => {
    const sealed = chunk.sealed;
    // Copied into a pack before addSealed first waits: the worker's slot is free again from here.
    const bytes = !sealed ? undefined : sealed instanceof Uint8Array ? asBuffer(sealed) : workers.sealedBytes(lane, sealed.slot, sealed.length);
    chunks.take(asBuffer(chunk.id), chunk.length, bytes, () => workers.credit(lane));
  });
  const settled = await job.finally(() => chunks.settle());
  return chunks.done(entry, settled);
}

/** One file's chunks as its worker reports them: counted, and the new ones added to a pack. */
export class FileChunks {
  readonly #ids: Buffer[] = [];
  readonly #adds: Promise<void>[] = [];
  #failure: FailsafeError | undefined;

  constructor(
    readonly writer: ChunkWriter,
    readonly stored: (id: Buffer, length: number) => void,
  ) {}

  /** A chunk with its sealed bytes when the worker sealed it; `release` once they are in a pack (or not needed). */
  take(id: Buffer, length: number, sealed: Buffer | undefined, release?: () => void): void {
    this.#ids.push(id);
    const fresh = this.writer.reserve(id);
    if (!sealed) {
      // The worker saw it in the index, or sealed it before: this thread must know it too, or the snapshot would name a chunk never stored.
      if (fresh) this.#failure ??= new FailsafeError('E_INTERNAL', `chunk ${id.toString('hex')} came back unsealed but is not stored`);
      this.stored(id, length);
      return;
    }
    const add = (fresh ? this.writer.addSealed(id, 'data', sealed, length) : Promise.resolve()).then(() => this.stored(id, length)).finally(release);
    add.catch(() => undefined);
    this.#adds.push(add);
  }

  /** Waits for every add, failed or not. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#adds);
  }

  /** The file's ids in order, once its chunks are all in, after the source has had its say on a change. */
  async done(entry: LocalEntry, settled: FileChunkResult): Promise<Buffer[]> {
    await Promise.all(this.#adds);
    if (this.#failure) throw this.#failure;
    const change = changeOf(entry, settled.read, settled.after);
    if (change) entry.localFile.changed(change);
    return this.#ids;
  }
}
