/**
 * Prune of a deduplicating (v2) repository: forget snapshots, then mark and
 * sweep. Marking reads each kept snapshot's reference list (sealed with the
 * index key, so a write-only host can prune too) into one bit per index
 * entry; a pack none of whose chunks is marked is swept. restic's order
 * keeps every step safe to interrupt: the snapshots go first (from then on
 * they do not exist), then a new index object naming only the kept packs is
 * written, then the old index objects go, and the packs last — a crash
 * anywhere leaves at most packs no index names, which the next prune sweeps.
 *
 * Against a concurrent backup the caller holds the repository's locks; and
 * a pack younger than `graceMs` is never swept whatever the marks say, as a
 * backup may be writing the snapshot that will name it (docs/design/dedup.md).
 * Packs partly used are repacked (core/dedup/repack.ts) when the unused
 * bytes they hold exceed `maxUnused` of the used ones; the old packs then go
 * with the swept ones, after the new index names the new packs.
 */
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { encodeIndex, newIndexKey, type IndexedPack } from '../pack/index-object.js';
import type { PackEntry } from '../pack/format.js';
import { loadIndex, PACKS_PREFIX, type LoadedRepositoryIndex } from '../pack/load-index.js';
import { CONFIG_KEY, openRepositoryKeys } from '../pack/repository-config.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { FailsafeError } from '../errors.js';
import { extendLocks, lockedObjects } from './pack-locks.js';
import { choosePacksToRepack, DEFAULT_MAX_UNUSED, repack, type PartlyUsedPack } from './repack.js';
import { decodeSnapshotHeaderV2, decodeSnapshotReferences, SNAPSHOTS_PREFIX } from './snapshot.js';

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

export interface DedupPruneInput {
  storage: Storage;
  keyRing: KeyRing;
  /** Snapshots to forget, as `<job>/<id>`. */
  forget: string[];
  graceMs?: number;
  /** Repack until the unused bytes left are at most this fraction of the used ones (0.05). */
  maxUnused?: number;
  packSize?: number;
  /** The repository's backups are sealed for recipients alone; repacked ones are too. */
  writeOnly?: boolean;
  now?: Date;
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: DedupPruneProgress) => void;
}

/** `mark`: kept snapshots read of `total`; `delete`: packs deleted (swept and repacked ones), with their bytes. */
export interface DedupPruneProgress {
  step: 'mark' | 'delete';
  done: number;
  total: number;
  bytes?: number;
  totalBytes?: number;
}

export interface DedupPruneReport {
  forgotten: string[];
  /** Packs deleted (unused ones and repacked ones), and the bytes they held. */
  removedPacks: number;
  removedBytes: number;
  keptPacks: number;
  /** Partly used packs whose used chunks were copied into `repackedPacks` new packs of `repackedBytes`. */
  repacked: number;
  repackedPacks: number;
  repackedBytes: number;
  /** Partly used packs left whole because this host cannot open them (a write-only host). */
  notRepacked: number;
  /** Packs nothing uses that were kept for being younger than the grace period. */
  tooYoung: number;
  /** Packs that would have been swept or repacked but are under a retention lock (S3 Object Lock): kept, and asked again next time. */
  locked: number;
  /** Objects (config, index, packs) whose retention lock was extended for the kept snapshots; 0 when the target locks nothing. */
  extendedLocks: number;
}

export async function pruneDeduplicated(input: DedupPruneInput): Promise<DedupPruneReport> {
  const { storage, keyRing } = input;
  const options = input.signal ? { signal: input.signal } : {};
  const { keys } = await openRepositoryKeys(storage, keyRing, options);
  const indexCipher = new SecretstreamCipher(keys.indexKey);
  const { kept, forgotten } = await splitSnapshots(storage, new Set(input.forget), options);
  const report: DedupPruneReport = { ...EMPTY_REPORT, forgotten };
  const open = (slots: KeySlot[]): SecretstreamCipher => new SecretstreamCipher(keyRing.open(slots));
  const loaded = await loadIndex(storage, indexCipher, { open, ...options });
  // Marked before anything is deleted: a kept snapshot whose chunks the index lacks stops the prune untouched.
  const marks = await mark(storage, kept, loaded, indexCipher, (done) => input.onProgress?.({ step: 'mark', done, total: kept.length }));
  if (!input.dryRun) for (const name of forgotten) await storage.delete(`${SNAPSHOTS_PREFIX}${name}`, options);
  const sizes = new Map<string, { size: number; modified?: Date }>();
  for await (const object of storage.list(PACKS_PREFIX, options)) sizes.set(object.key, object);
  const now = (input.now ?? new Date()).getTime();
  const young = (key: string): boolean => now - (sizes.get(key)?.modified?.getTime() ?? now) < (input.graceMs ?? DEFAULT_GRACE_MS);
  const first = classify(loaded, marks, young);
  // Only candidates are asked about their locks: a HEAD per pack that would go, none for packs that stay anyway.
  const candidates = [...first.sweep, ...choosePacksToRepack(first.partly, first.usedBytes, maxUnused(input)).map((p) => p.pack.key)];
  const locked = await lockedObjects(storage, candidates, now, options);
  const { keep, sweep, partly, usedBytes } = locked.size === 0 ? first : classify(loaded, marks, (key) => young(key) || locked.has(key));
  Object.assign(report, { tooYoung: first.tooYoung, locked: locked.size });
  const chosen = choosePacksToRepack(partly, usedBytes, maxUnused(input));
  report.repacked = chosen.length;
  const count = (keys: string[]): void => {
    report.removedPacks = keys.length;
    report.removedBytes = keys.reduce((n, key) => n + (sizes.get(key)?.size ?? 0), 0);
  };
  count([...sweep, ...chosen.map((p) => p.pack.key)]);
  report.keptPacks = keep.length - chosen.length;
  if (input.dryRun) return report;
  let remaining = { packs: keep.map((p) => p.key), indexObjects: loaded.indexObjects };
  if (sweep.length > 0 || chosen.length > 0) {
    const moved = await repack({
      storage,
      keyRing,
      packs: chosen,
      writeOnly: input.writeOnly === true,
      ...options,
      ...(input.packSize ? { packSize: input.packSize } : {}),
    });
    const replaced = new Set(moved.replaced);
    Object.assign(report, { repacked: moved.replaced.length, repackedPacks: moved.written.length, notRepacked: moved.skipped.length });
    report.repackedBytes = moved.writtenBytes;
    const index = [...keep.filter((p) => !replaced.has(p.key)), ...moved.written];
    report.keptPacks = index.length;
    sweep.push(...moved.replaced);
    count(sweep);
    const indexKey = newIndexKey();
    await storage.put(indexKey, encodeIndex(index, indexCipher), options);
    crashPoint('prune-index-written');
    await deleteAll(storage, loaded.indexObjects, 'prune-index-deleted', options);
    await deleteAll(storage, sweep, 'prune-pack-deleted', options, packsDeleted(sizes, sweep.length, report.removedBytes, input.onProgress));
    remaining = { packs: index.map((p) => p.key), indexObjects: [indexKey] };
  }
  report.extendedLocks = await extendLocks(storage, [CONFIG_KEY, ...remaining.indexObjects, ...remaining.packs], options);
  return report;
}

/** The `delete` step's progress: packs deleted of `total`, and the bytes they held. */
function packsDeleted(
  sizes: Map<string, { size: number }>,
  total: number,
  totalBytes: number,
  onProgress: DedupPruneInput['onProgress'],
): (key: string, done: number) => void {
  let bytes = 0;
  return (key, done) => {
    bytes += sizes.get(key)?.size ?? 0;
    onProgress?.({ step: 'delete', done, total, bytes, totalBytes });
  };
}

function maxUnused(input: DedupPruneInput): number {
  return input.maxUnused ?? DEFAULT_MAX_UNUSED;
}

const EMPTY_REPORT: DedupPruneReport = {
  forgotten: [],
  removedPacks: 0,
  removedBytes: 0,
  keptPacks: 0,
  repacked: 0,
  repackedPacks: 0,
  repackedBytes: 0,
  notRepacked: 0,
  tooYoung: 0,
  locked: 0,
  extendedLocks: 0,
};

/** The snapshot objects to keep, and the names (`<job>/<id>`) of those to forget that exist. */
async function splitSnapshots(storage: Storage, forget: Set<string>, options: { signal?: AbortSignal }): Promise<{ kept: string[]; forgotten: string[] }> {
  const kept: string[] = [];
  const forgotten: string[] = [];
  for await (const object of storage.list(SNAPSHOTS_PREFIX, options)) {
    const name = object.key.slice(SNAPSHOTS_PREFIX.length);
    if (forget.has(name)) forgotten.push(name);
    else kept.push(object.key);
  }
  return { kept, forgotten };
}

async function deleteAll(
  storage: Storage,
  keys: string[],
  point: 'prune-index-deleted' | 'prune-pack-deleted',
  options: { signal?: AbortSignal },
  deleted?: (key: string, done: number) => void,
): Promise<void> {
  for (const [n, key] of keys.entries()) {
    await storage.delete(key, options);
    crashPoint(point, n + 1);
    deleted?.(key, n + 1);
  }
}

interface Classified {
  keep: IndexedPack[];
  sweep: string[];
  partly: PartlyUsedPack[];
  usedBytes: number;
  tooYoung: number;
}

/** Each pack: swept (nothing used, old enough), kept, and among the kept ones those partly used and old enough to repack. */
function classify(loaded: LoadedRepositoryIndex, marks: Marks, young: (key: string) => boolean): Classified {
  const out: Classified = { keep: [], sweep: [], partly: [], usedBytes: 0, tooYoung: 0 };
  const bytesOf = (entries: PackEntry[]): number => entries.reduce((n, e) => n + e.length, 0);
  loaded.all.forEach((pack, number) => {
    const used = pack.entries.filter((_, i) => marks.isUsed(number, i));
    out.usedBytes += bytesOf(used);
    if (used.length === 0 && !young(pack.key)) return void out.sweep.push(pack.key);
    out.keep.push(pack);
    if (used.length === 0) out.tooYoung++;
    else if (used.length < pack.entries.length && !young(pack.key)) out.partly.push({ pack, used, unusedBytes: bytesOf(pack.entries) - bytesOf(used) });
  });
  // Packs no index names and no header of which could be read (another host's crashed run): swept once old enough.
  for (const key of loaded.unindexed) if (!young(key)) out.sweep.push(key);
  return out;
}

interface Marks {
  isUsed(pack: number, entry: number): boolean;
}

/** One bit per index entry: set when a kept snapshot references that chunk. */
async function mark(
  storage: Storage,
  snapshots: string[],
  loaded: LoadedRepositoryIndex,
  indexCipher: SecretstreamCipher,
  read: (done: number) => void,
): Promise<Marks> {
  const bases: number[] = [];
  let total = 0;
  for (const pack of loaded.all) {
    bases.push(total);
    total += pack.entries.length;
  }
  const bits = new Uint8Array(Math.ceil(total / 8));
  for (const [n, key] of snapshots.entries()) {
    const bytes = await storage.getBuffer(key);
    const what = `${storage.targetName}:${key}`;
    decodeSnapshotHeaderV2(bytes, what);
    for (const id of decodeSnapshotReferences(bytes, indexCipher, what)) {
      const at = loaded.index.get(id);
      if (!at) throw new FailsafeError('E_CORRUPT', `${what} uses chunk ${id.toString('hex')}, which no pack holds: nothing was pruned`);
      const bit = bases[at.pack]! + entryAt(loaded.all[at.pack]!.entries, at.offset);
      bits[bit >> 3]! |= 1 << (bit & 7);
    }
    read(n + 1);
  }
  return { isUsed: (pack, entry) => ((bits[(bases[pack]! + entry) >> 3]! >> ((bases[pack]! + entry) & 7)) & 1) === 1 };
}

/** The number of the entry at `offset` (a pack's entries are in offset order: checkRows made sure). */
function entryAt(entries: PackEntry[], offset: number): number {
  let low = 0;
  let high = entries.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const at = entries[middle]!.offset;
    if (at === offset) return middle;
    if (at < offset) low = middle + 1;
    else high = middle - 1;
  }
  throw new FailsafeError('E_CORRUPT', `the index names a chunk at offset ${offset}, where its pack has none`);
}
