/**
 * A backup into a deduplicating (v2) repository, end to end: each source's
 * files cut into chunks on the main thread, each chunk's keyed id and — when
 * new — its compression and sealing in the segment workers, each new chunk
 * stored once in packs, then the tree, the index object and the snapshot
 * object, written last (docs/design/dedup.md).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_CHUNK_SIZES, FastCdc, type ChunkSizes } from '../chunking/fastcdc.js';
import { gearTable } from '../chunking/gear.js';
import { assertNotAllLeftOut, isLeftOut } from '../backup/source-errors.js';
import type { SegmentCodec, SourcePlugin } from '../contracts.js';
import type { KeyRing } from '../crypto/keys.js';
import type { Signer } from '../crypto/signing.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import type { ManifestSource } from '../format/manifest.js';
import { isTempName } from '../fs/atomic.js';
import { makeFolder } from '../fs/make-folder.js';
import { ChunkWriter, type ChunkWriterOptions } from '../pack/chunk-writer.js';
import { loadIndex } from '../pack/load-index.js';
import { openRepositoryKeys } from '../pack/repository-config.js';
import { newSnapshotId } from '../repository/layout.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { chunkStream } from './chunk-files.js';
import { startFileChunker, type StartedChunker } from './file-chunker.js';
import { FilesCache } from './files-cache.js';
import { encodeSnapshotV2, snapshotKeyV2, type SnapshotStatsV2 } from './snapshot.js';
import { encodeTreeLine } from './tree.js';
import { runSlots } from './run-slots.js';

/** The tree's own chunks are smaller: a changed line costs 64 KiB, not a MiB. */
const TREE_SIZES: ChunkSizes = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

export interface DedupBackupInput {
  job: string;
  sources: SourcePlugin[];
  storage: Storage;
  keyRing: KeyRing;
  /** Signs the snapshot object (`signing.keyFile`): readers that trust its public key tell it from a forgery. */
  signer?: Signer;
  codec: SegmentCodec;
  sizes?: ChunkSizes;
  /** The zstd level of the worker threads' codec (`codec` compresses the tree on the main thread). */
  level?: number;
  /** Worker threads that hash and seal chunks (the machine's parallelism). */
  parallelism?: number;
  packSize?: number;
  /** The snapshot's date (the deployment's clock); the system clock by default. */
  now?: () => Date;
  tags?: string[];
  /**
   * A write-only host: the run's key is sealed for the recipients alone, so
   * not even this host can read the packs once the run ends. It still
   * deduplicates: the repository's config opens with its dedup key file and
   * the index with the index key (docs/design/dedup.md, Keys).
   */
  writeOnly?: boolean;
  /** Where the files cache lives (per repository and job); without it every file is read. */
  cacheDir?: string;
  /** Read every file, trusting no cache. */
  forceReread?: boolean;
  /** Called as data is read: per chunk, and per file the cache skips. */
  onProgress?: (progress: DedupProgress) => void;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface DedupProgress {
  /** The entry being read, as `<source>/<path>`. */
  file?: string;
  files: number;
  bytesRead: number;
  /** Bytes added to the repository so far. */
  storedBytes: number;
}

export interface DedupBackupResult {
  id: string;
  /** The date the snapshot object carries. */
  createdAt: string;
  stats: SnapshotStatsV2;
  /** Files the cache showed unchanged (not read), and files read. */
  cache: { hits: number; misses: number };
}

export async function backupDeduplicated(input: DedupBackupInput): Promise<DedupBackupResult> {
  const startedMs = Date.now();
  const { storage, keyRing, signal } = input;
  const { keys } = await openRepositoryKeys(storage, keyRing, signal ? { signal } : {});
  const indexCipher = new SecretstreamCipher(keys.indexKey);
  const runKey = keyRing.newDataKey();
  const run = { cipher: new SecretstreamCipher(runKey), slots: runSlots(keyRing, runKey, input.writeOnly === true) };
  const open = (slots: Parameters<KeyRing['open']>[0]): SecretstreamCipher => new SecretstreamCipher(keyRing.open(slots));
  const known = await loadIndex(storage, indexCipher, { open, ...(signal ? { signal } : {}) });
  // A stored pack moves the progress too: after the last file is read, the uploads are what is left.
  const onStored = (): void => report(0);
  const writer = new ChunkWriter(storage, known, { idKey: keys.idKey, indexCipher, ...run }, { ...(await writerOptions(input)), onStored });
  const gear = gearTable(keys.gearKey);
  const references = new Map<string, Buffer>();
  const progress: DedupProgress = { files: 0, bytesRead: 0, storedBytes: 0 };
  const report = (bytes: number): void => {
    progress.bytesRead += bytes;
    progress.storedBytes = writer.stats.storedBytes;
    input.onProgress?.({ ...progress });
  };
  const store = async (chunk: Buffer, kind: 'data' | 'tree' = 'data'): Promise<Buffer> => {
    const id = await writer.add(chunk, kind);
    references.set(id.toString('hex'), id);
    if (kind === 'data') report(chunk.length);
    return id;
  };
  const cacheFile = input.cacheDir ? join(input.cacheDir, keys.id, `${input.job}.files`) : undefined;
  const cache = await FilesCache.open(cacheFile, { forceReread: input.forceReread === true });
  const chunker = startFileChunker({
    cache,
    writer,
    gear,
    idKey: keys.idKey,
    runKey,
    sizes: input.sizes ?? DEFAULT_CHUNK_SIZES,
    level: input.level ?? 3,
    parallelism: input.parallelism ?? availableParallelism(),
    progress,
    references,
    report,
  });
  const { tree, sources, files, bytes, warnings } = await storeTree(input, chunker, gear, store, writer);
  const id = newSnapshotId();
  const stats: SnapshotStatsV2 = { files, bytes, chunks: references.size, newChunks: writer.stats.newChunks, storedBytes: writer.stats.storedBytes };
  const labels = { ...(input.tags?.length ? { tags: input.tags } : {}), ...(warnings > 0 ? { warnings } : {}) };
  const createdAt = (input.now?.() ?? new Date()).toISOString();
  const header = { format: 2 as const, id, job: input.job, createdAt, ...labels, durationMs: Date.now() - startedMs, stats };
  const snapshot = encodeSnapshotV2(header, { sources, tree }, [...references.values()], run, indexCipher, input.signer);
  // The snapshot goes last: its presence is what makes it exist, and everything it names is stored by now.
  crashPoint('snapshot');
  await storage.put(snapshotKeyV2(input.job, id), snapshot, signal ? { signal } : {});
  crashPoint('snapshot-written');
  await cache.save().catch((err: unknown) => input.warn?.(`the files cache could not be saved (the next backup reads every file): ${(err as Error).message}`));
  return { id, createdAt, stats: { ...stats, storedBytes: stats.storedBytes + snapshot.length }, cache: { hits: cache.hits, misses: cache.misses } };
}

async function writerOptions(input: DedupBackupInput): Promise<ChunkWriterOptions> {
  // Open packs are filled in the cache folder, on disk, rather than in memory (core/pack/spilled-pack.ts).
  const spillDir = input.cacheDir ? await spillFolder(join(input.cacheDir, 'packs')) : undefined;
  return {
    codec: input.codec,
    ...(input.packSize ? { packSize: input.packSize } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(spillDir ? { spillDir } : {}),
  };
}

/**
 * The folder open packs are filled in, or undefined (packs then fill in memory) when it cannot be made. A pack
 * file a crashed run left behind there is removed once a day old: a run removes its own as it goes.
 */
async function spillFolder(dir: string): Promise<string | undefined> {
  try {
    await makeFolder(dir);
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (isTempName(name) && Date.now() - (await stat(path)).mtimeMs > 86_400_000) await rm(path, { force: true });
    }
    return dir;
  } catch {
    return undefined;
  }
}

/** Every source's entries read and chunked, the tree's lines cut into chunks and stored, then the open packs: the tree's chunk ids. */
async function storeTree(
  input: DedupBackupInput,
  chunker: StartedChunker,
  gear: Uint32Array,
  store: (chunk: Buffer, kind: 'tree') => Promise<Buffer>,
  writer: ChunkWriter,
): Promise<Omit<CollectedTree, 'lines'> & { tree: Buffer[] }> {
  try {
    const { lines, ...collected } = await collectTree(input, chunker).finally(() => chunker.close());
    const tree = (await chunkStream(streamOf(lines), new FastCdc(gear, TREE_SIZES), (chunk) => store(chunk, 'tree'))).ids;
    await writer.finish();
    return { ...collected, tree };
  } catch (err) {
    // A failed run leaves no pack half written (a spilled pack's file is removed).
    await writer.abandon();
    throw err;
  }
}

interface CollectedTree {
  lines: string[];
  sources: ManifestSource[];
  files: number;
  bytes: number;
  warnings: number;
}

async function collectTree(input: DedupBackupInput, { chunkFile, flush }: StartedChunker): Promise<CollectedTree> {
  const out: CollectedTree = { lines: [], sources: [], files: 0, bytes: 0, warnings: 0 };
  // Each file's line, once its last chunks are back from the workers; the lines stay in tree order.
  const lines: Promise<string>[] = [];
  for (const source of input.sources) {
    // A source's warnings are recorded with it, as format 1's collect stage does, and counted in the public header.
    const warnings: string[] = [];
    const warn = (message: string): void => {
      warnings.push(message);
      input.warn?.(message);
    };
    const context = { signal: input.signal, warn };
    await source.prepare?.(context);
    try {
      const summary: ManifestSource = { name: source.name, type: source.type, entries: 0, bytes: 0, ...(source.describe ? { meta: source.describe() } : {}) };
      const files = new Map<string, Promise<Buffer[]>>();
      for await (const entry of source.entries(context)) {
        const { open: _open, localFile: _local, mtime, hardLink, ...rest } = entry;
        // A hard link's bytes are its first name's: read once, its chunk ids listed again (old readers restore a copy).
        const linked = entry.type === 'file' && hardLink !== undefined ? files.get(hardLink) : undefined;
        const ids = entry.type === 'file' ? (linked ?? (await chunkFile(entry, source.name)).ids) : undefined;
        if (ids) files.set(entry.path, ids);
        const chunks = ids ?? Promise.resolve(undefined);
        const link = linked ? { hardLink: hardLink! } : {};
        const line = chunks.then((ids) =>
          encodeTreeLine({ ...rest, ...link, source: source.name, mtime: mtime.toISOString(), ...(ids ? { chunks: ids } : {}) }),
        );
        line.catch(() => undefined);
        lines.push(line);
        summary.entries++;
        summary.bytes += entry.size;
        if (entry.type === 'file') out.files++;
      }
      await flush();
      if (isLeftOut(source)) continue;
      out.bytes += summary.bytes;
      if (warnings.length > 0) summary.warnings = warnings;
      out.warnings += warnings.length;
      out.sources.push(summary);
      // A source's files are all read before its cleanup (a database snapshot's copy may be removed then).
      out.lines.push(...(await Promise.all(lines.splice(0))));
    } finally {
      await source.cleanup?.().catch(() => undefined);
    }
  }
  assertNotAllLeftOut(input.sources);
  return out;
}

function streamOf(lines: string[]): Readable {
  return Readable.from(lines.map((line) => Buffer.from(line)));
}
