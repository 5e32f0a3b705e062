/**
 * How a v2 backup turns each file into chunk ids: from the files cache when
 * the file is unchanged; a local file (SourceEntry.localFile) read and cut
 * whole in a segment worker, several files at once (core/dedup/file-jobs.ts);
 * any other stream read and cut on the main thread into shared slots
 * (core/dedup/chunk-slots.ts) while the workers hash each chunk. Either way a
 * chunk is compressed and sealed only when the repository and this run lack it.
 */
import { FastCdc, type ChunkSizes } from '../chunking/fastcdc.js';
import type { SourceEntry } from '../contracts.js';
import type { ChunkWriter } from '../pack/chunk-writer.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { BoundedTasks } from '../pipeline/bounded-tasks.js';
import { ChunkSlots, chunkIntoSlots, type ChunkTaker } from './chunk-slots.js';
import { FileBatches, SMALL_FILE } from './file-batches.js';
import { chunkFileInWorker } from './file-jobs.js';
import type { FilesCache } from './files-cache.js';

/**
 * A file's chunk ids: from the files cache, or read and chunked. Resolves once
 * the file is read; its ids may come later (its last chunks still in the workers).
 */
export type FileChunker = (entry: SourceEntry, source: string) => Promise<{ ids: Promise<Buffer[]> }>;

/** Chunks in flight at once: enough to keep every worker busy while the main thread reads and cuts the next. */
const SLOTS_PER_WORKER = 3;
/** Local files (or batches of small ones) queued or being cut at once: two held by each worker (segment-workers.ts), one waiting here. */
const FILES_PER_WORKER = 3;
/** Sealed chunks a worker may have on their way to a pack: a few MiB per worker, whatever the file's size. */
const CREDITS = 4;

export interface FileChunkerInput {
  cache: FilesCache;
  writer: ChunkWriter;
  gear: Uint32Array;
  idKey: Uint8Array;
  /** This run's data key: the workers seal new chunks with it. */
  runKey: Uint8Array;
  sizes: ChunkSizes;
  level: number;
  parallelism: number;
  /** The run's progress record: the current file and the files count are kept here. */
  progress: { file?: string; files: number };
  /** Every chunk the snapshot references, by hex id. */
  references: Map<string, Buffer>;
  /** Bytes read (or skipped by the cache) so far. */
  report(bytes: number): void;
}

export interface StartedChunker {
  chunkFile: FileChunker;
  /** Sends the small files still gathered for a batch: call before waiting for the ids of every file so far. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function startFileChunker(input: FileChunkerInput): StartedChunker {
  const { cache, writer, references, progress } = input;
  // Started at the first file the cache cannot answer: an unchanged backup reads nothing and needs no thread.
  let pool: { workers: SegmentWorkers; slots: ChunkSlots } | undefined;
  const started = (): { workers: SegmentWorkers; slots: ChunkSlots } => {
    if (pool) return pool;
    const workers = new SegmentWorkers(
      { compression: { algorithm: 'zstd', level: input.level }, cipher: { name: 'xchacha20poly1305-secretstream', key: input.runKey } },
      input.parallelism,
    );
    const slots = new ChunkSlots(input.sizes.max, input.parallelism * SLOTS_PER_WORKER);
    const idKey = Uint8Array.from(input.idKey);
    workers.shareChunking({ slots: slots.shared, idKey }, { idKey, gear: input.gear, sizes: input.sizes, known: writer.known.index.shareIds() }, CREDITS);
    pool = { workers, slots };
    return pool;
  };
  const stored = (id: Buffer, length: number): void => {
    references.set(id.toString('hex'), id);
    input.report(length);
  };
  const files = new BoundedTasks(input.parallelism * FILES_PER_WORKER);
  const batches = new FileBatches(files, () => started().workers, writer, stored);
  const chunkFile: FileChunker = async (entry, source) => {
    const key = `${source}/${entry.path}`;
    progress.file = key;
    progress.files++;
    const local = entry.localFile;
    const cached = local && (await cache.lookup(key, local, entry.size, (id) => writer.known.index.has(id)));
    if (cached) {
      cached.forEach((id) => references.set(id.toString('hex'), id));
      input.report(entry.size);
      return { ids: Promise.resolve(cached) };
    }
    if (!entry.open && !entry.localFile) return { ids: Promise.resolve([]) };
    // Stamped before reading: a file changed while it is read is read again next time.
    const stamp = local ? await cache.stamp(local) : undefined;
    const { workers, slots } = started();
    const localEntry = entry.localFile ? { ...entry, localFile: entry.localFile } : undefined;
    const { ids } = localEntry
      ? localEntry.size <= SMALL_FILE
        ? await batches.add(localEntry, source)
        : await inWorker(files, () => chunkFileInWorker(workers, writer, stored, localEntry, source))
      : await chunkIntoSlots(entry.open!(), new FastCdc(input.gear, input.sizes), slots, sealInWorkers(workers, writer, stored));
    return {
      ids: ids.then((list) => {
        if (stamp) cache.record(key, stamp, list);
        return list;
      }),
    };
  };
  // Stopping the workers first ends any file job still out (a failed run), which `settle` then waits for.
  return { chunkFile, flush: () => batches.flush(), close: () => (pool ? pool.workers.close() : Promise.resolve()).finally(() => files.settle()) };
}

/** Queues a file job once fewer than the limit are out; resolves then, with its ids to come. */
async function inWorker(files: BoundedTasks, job: () => Promise<Buffer[]>): Promise<{ ids: Promise<Buffer[]> }> {
  let ids!: Promise<Buffer[]>;
  await files.add(() => {
    ids = job();
    return ids.then(() => undefined);
  });
  return { ids };
}

/**
 * Each chunk's keyed id from a worker; when the repository and this run lack
 * it, a second request has a worker compress and seal it where it lies, and
 * the sealed bytes go into a pack. `stored` is told of every chunk, new or
 * not, once it is accounted for.
 */
function sealInWorkers(workers: SegmentWorkers, writer: ChunkWriter, stored: (id: Buffer, length: number) => void): ChunkTaker {
  return async (slot, length) => {
    try {
      const { id } = await workers.chunk({ slot: slot.index, length });
      if (writer.reserve(id)) {
        const { sealed } = await workers.chunk({ slot: slot.index, length, sealAs: id });
        await writer.addSealed(id, 'data', sealed!, length);
      }
      stored(id, length);
      return id;
    } finally {
      slot.release();
    }
  };
}
