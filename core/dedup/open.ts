/**
 * A v2 snapshot opened for the restore and verify engines: its tree turned
 * into the manifest shape they plan with (sources and entries, without tar
 * positions), and its entries streamed from the packs (`chunked`), each
 * file's chunks checked against their keyed ids on the way. The safe restore
 * around it — staging, checks, safety snapshot, journaled swap — is format 1's.
 */
import { Readable } from 'node:stream';
import { createSegmentCodec } from '../codec/compression.js';
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import type { TrustPolicy } from '../crypto/signing.js';
import { PlainCipher, SecretstreamCipher } from '../crypto/segment-cipher.js';
import { FailsafeError } from '../errors.js';
import type { Manifest, ManifestEntry } from '../format/manifest.js';
import { ChunkReader } from '../pack/chunk-reader.js';
import type { LoadedIndex } from '../pack/chunk-writer.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { availableParallelism } from 'node:os';
import { loadIndex, PACKS_PREFIX } from '../pack/load-index.js';
import { openRepositoryKeys } from '../pack/repository-config.js';
import type { ArchiveEntry } from '../read/archive.js';
import { checkTrust, type ChunkedContent, type OpenedSnapshot } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import { ChunkRuns } from './chunk-runs.js';
import { decodeSnapshotBodyV2, snapshotKeyV2, snapshotSignerV2 } from './snapshot.js';
import { decodeTree, type TreeEntry } from './tree.js';

/** Opens a v2 snapshot; with `trust`, only one signed by a trusted key (or any with `allowUnsigned`), as format 1. */
export async function openSnapshotV2(storage: Storage, job: string, id: string, keyRing: KeyRing, trust?: TrustPolicy): Promise<OpenedSnapshot> {
  const what = `${storage.targetName}:${snapshotKeyV2(job, id)}`;
  const openKey = (slots: KeySlot[]): Uint8Array => keyRing.open(slots);
  const open = (slots: KeySlot[]): SecretstreamCipher => new SecretstreamCipher(openKey(slots));
  const bytes = await storage.getBuffer(snapshotKeyV2(job, id));
  // The signature first, whatever the policy: an altered signed object is E_CHECKSUM even with --allow-unsigned.
  checkTrust(trust, await snapshotSignerV2(bytes, what), what);
  const { keys } = await openRepositoryKeys(storage, keyRing);
  const indexCipher = new SecretstreamCipher(keys.indexKey);
  const snapshot = decodeSnapshotBodyV2(bytes, open, what, indexCipher);
  if (snapshot.job !== job || snapshot.id !== id) throw new FailsafeError('E_CORRUPT', `${what}: its header names ${snapshot.job}/${snapshot.id}`);
  // The index alone: the packs' entry lists it was built from (`all`) are a few hundred bytes a chunk, for the whole run.
  const { index, packs } = await loadIndex(storage, indexCipher, { open });
  const known: LoadedIndex = { index, packs };
  // zstd frames carry what they need: a reader needs no record of the level (core/config/load.ts allows zstd alone).
  const reader = new ChunkReader(storage, known, { idKey: keys.idKey, open, openKey }, createSegmentCodec('zstd', 1));
  const treeText = Buffer.concat(await Promise.all(snapshot.tree.map((chunk) => reader.read(chunk)))).toString('utf8');
  const tree = decodeTree(treeText, what);
  const manifest: Manifest = {
    format: 2,
    id,
    job,
    createdAt: snapshot.createdAt,
    tool: 'failsafe',
    compression: { algorithm: 'zstd', level: 0 },
    cipher: 'xchacha20poly1305-secretstream',
    segmentSize: 0,
    tarBytes: 0,
    sources: snapshot.sources,
    segments: [],
    entries: tree.map(asManifestEntry),
  };
  const { stats } = snapshot;
  const header = {
    format: 2,
    id,
    job,
    createdAt: snapshot.createdAt,
    tool: 'failsafe',
    stats: { files: stats.files, bytes: stats.bytes, storedBytes: stats.storedBytes, segments: stats.chunks },
    ...(snapshot.tags ? { tags: snapshot.tags } : {}),
    encryption: { cipher: 'none' as const, bodySha256: '' },
  };
  const codecs = { compression: { algorithm: 'zstd', level: 0 }, cipher: { name: 'none' } };
  const chunked: ChunkedContent = {
    entries: (sources, signal, only) => archiveEntriesV2(tree, sources, reader, what, signal, only),
    check: (readData, signal, onProgress) => checkChunks(storage, { tree, treeChunks: snapshot.tree, reader, known }, readData, signal, onProgress),
  };
  return { storage, header, manifest, cipher: new PlainCipher(), codecs, chunked };
}

function asManifestEntry(entry: TreeEntry): ManifestEntry {
  const { chunks: _chunks, ...rest } = entry;
  return { ...rest, segment: 0, offset: 0 };
}

async function* archiveEntriesV2(
  tree: TreeEntry[],
  sources: Set<string>,
  reader: ChunkReader,
  what: string,
  signal?: AbortSignal,
  only?: (entry: ManifestEntry) => boolean,
): AsyncGenerator<ArchiveEntry> {
  const selected = tree.filter((entry) => sources.has(entry.source) && (!only || only(asManifestEntry(entry))));
  const ids = selected.flatMap((entry) => entry.chunks ?? []);
  const { workers, runs } = readAhead(ids, reader, signal);
  try {
    yield* entriesOf(selected, runs, what, signal);
  } finally {
    await workers.close();
  }
}

/** Worker threads that open chunks: each request brings its pack's key, so the pool's own cipher is none. */
const OPENING_SPEC = { compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'none' } };

/** `ids` read ahead in order and opened in worker threads (no more threads than chunks); the caller closes the workers. */
function readAhead(ids: Buffer[], reader: ChunkReader, signal?: AbortSignal): { workers: SegmentWorkers; runs: ChunkRuns } {
  const workers = new SegmentWorkers(OPENING_SPEC, Math.min(availableParallelism(), Math.max(1, ids.length)));
  return { workers, runs: new ChunkRuns(ids, reader, workers, { signal }) };
}

/**
 * Each file's bytes as `chunks` (views of the read-ahead's shared buffers,
 * each valid until the next is asked for: no copy) or as a `body` stream,
 * made on first use, of copies (a stream reads ahead).
 */
async function* entriesOf(selected: TreeEntry[], runs: ChunkRuns, what: string, signal?: AbortSignal): AsyncGenerator<ArchiveEntry> {
  let position = 0;
  for (const entry of selected) {
    signal?.throwIfAborted();
    const record = asManifestEntry(entry);
    const { chunks, source, mtime, ...rest } = entry;
    const base = { ...rest, source, record, mtime: new Date(mtime) };
    if (!chunks) {
      yield base;
      continue;
    }
    const first = position;
    const bytes = (): AsyncGenerator<Buffer> => fileBytes(runs, first, chunks.length, entry.size, `${what}: ${source}/${entry.path}`);
    position += chunks.length;
    const file: ArchiveEntry = { ...base, chunks: bytes };
    let body: Readable | undefined;
    // One chunk buffered in the stream: the read-ahead holds the rest, bounded.
    Object.defineProperty(file, 'body', { enumerable: true, configurable: true, get: () => (body ??= Readable.from(copies(bytes()), { highWaterMark: 1 })) });
    yield file;
  }
}

async function* copies(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield Buffer.from(chunk);
}

async function* fileBytes(runs: ChunkRuns, first: number, count: number, size: number, what: string): AsyncGenerator<Buffer> {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const chunk = await runs.get(first + i);
    total += chunk.length;
    if (total > size) throw new FailsafeError('E_CORRUPT', `${what}: more bytes than the ${size} recorded`);
    yield chunk;
  }
  if (total !== size) throw new FailsafeError('E_CORRUPT', `${what}: ${total} bytes where ${size} were recorded`);
}

interface OpenedTree {
  tree: TreeEntry[];
  treeChunks: Buffer[];
  reader: ChunkReader;
  known: LoadedIndex;
}

async function checkChunks(
  storage: Storage,
  { tree, treeChunks, reader, known }: OpenedTree,
  readData: boolean,
  signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const ids = [...treeChunks, ...tree.flatMap((e) => e.chunks ?? [])];
  const packs = new Set<string>();
  for await (const object of storage.list(PACKS_PREFIX, signal ? { signal } : {})) packs.add(object.key);
  for (const id of ids) {
    const at = known.index.get(id);
    if (!at) throw new FailsafeError('E_CORRUPT', `${storage.targetName}: chunk ${id.toString('hex')} is in no pack of the index`);
    const pack = known.packs[at.pack]!;
    if (!packs.has(pack)) throw new FailsafeError('E_CORRUPT', `pack ${storage.targetName}:${pack} is missing`, { object: pack });
  }
  if (readData) {
    const total = tree.reduce((sum, e) => sum + (e.chunks ? e.size : 0), 0);
    await readEvery(ids, reader, signal, { from: treeChunks.length, total, ...(onProgress ? { onProgress } : {}) });
  }
  return ids.length;
}

/** Reads and checks every chunk, opened in worker threads and read ahead as a restore reads them; the file bytes (chunks `from` on) are reported. */
async function readEvery(
  ids: Buffer[],
  reader: ChunkReader,
  signal: AbortSignal | undefined,
  progress: { from: number; total: number; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const { workers, runs } = readAhead(ids, reader, signal);
  let done = 0;
  try {
    for (let i = 0; i < ids.length; i++) {
      const chunk = await runs.get(i);
      if (i >= progress.from) done += chunk.length;
      progress.onProgress?.(done, progress.total);
    }
    progress.onProgress?.(progress.total, progress.total);
  } finally {
    await workers.close();
  }
}
