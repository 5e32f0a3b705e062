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
import { changeOf } from '../pipeline/local-file.js';
import { asBuffer } from '../pipeline/segment-work.js';
import type { SegmentWorkers } from '../pipeline/segment-workers.js';

export async function chunkFileInWorker(
  workers: SegmentWorkers,
  writer: ChunkWriter,
  stored: (id: Buffer, length: number) => void,
  entry: SourceEntry & { localFile: LocalFile },
  source: string,
): Promise<Buffer[]> {
  const ids: Buffer[] = [];
  const adds: Promise<void>[] = [];
  let failure: FailsafeError | undefined;
  const job = workers.chunkFile({ path: entry.localFile.path, size: entry.size, source: `source "${source}"` }, (chunk, lane) => {
    const id = asBuffer(chunk.id);
    ids.push(id);
    const fresh = writer.reserve(id);
    if (!chunk.sealed) {
      // The worker saw it in the index, or sealed it before: this thread must know it too, or the snapshot would name a chunk never stored.
      if (fresh) failure ??= new FailsafeError('E_INTERNAL', `chunk ${id.toString('hex')} came back unsealed but is not stored`);
      stored(id, chunk.length);
      return;
    }
    // Copied into a pack before addSealed first waits: the worker's slot is free again from here.
    const sealed = chunk.sealed instanceof Uint8Array ? asBuffer(chunk.sealed) : workers.sealedBytes(lane, chunk.sealed.slot, chunk.sealed.length);
    const add = (fresh ? writer.addSealed(id, 'data', sealed, chunk.length) : Promise.resolve())
      .then(() => stored(id, chunk.length))
      .finally(() => workers.credit(lane));
    add.catch(() => undefined);
    adds.push(add);
  });
  const settled = await job.finally(() => Promise.allSettled(adds));
  await Promise.all(adds);
  if (failure) throw failure;
  const change = changeOf(entry, settled.read, settled.after);
  if (change) entry.localFile.changed(change);
  return ids;
}
