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
 * Packs partly used are kept whole for now: repacking them comes later.
 */
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { encodeIndex, newIndexKey, type IndexedPack } from '../pack/index-object.js';
import { loadIndex, PACKS_PREFIX } from '../pack/load-index.js';
import { openRepositoryKeys } from '../pack/repository-config.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { FailsafeError } from '../errors.js';
import { decodeSnapshotHeaderV2, decodeSnapshotReferences, SNAPSHOTS_PREFIX } from './snapshot.js';

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

export interface DedupPruneInput {
  storage: Storage;
  keyRing: KeyRing;
  /** Snapshots to forget, as `<job>/<id>`. */
  forget: string[];
  graceMs?: number;
  now?: Date;
  dryRun?: boolean;
}

export interface DedupPruneReport {
  forgotten: string[];
  /** Packs swept, and the bytes they held. */
  removedPacks: number;
  removedBytes: number;
  keptPacks: number;
  /** Packs nothing uses that were kept for being younger than the grace period. */
  tooYoung: number;
}

export async function pruneDeduplicated(input: DedupPruneInput): Promise<DedupPruneReport> {
  const { storage, keyRing } = input;
  const { keys } = await openRepositoryKeys(storage, keyRing);
  const indexCipher = new SecretstreamCipher(keys.indexKey);
  const forget = new Set(input.forget);
  const report: DedupPruneReport = { forgotten: [], removedPacks: 0, removedBytes: 0, keptPacks: 0, tooYoung: 0 };
  const kept: string[] = [];
  for await (const object of storage.list(SNAPSHOTS_PREFIX)) {
    const name = object.key.slice(SNAPSHOTS_PREFIX.length);
    if (!forget.has(name)) kept.push(object.key);
    else report.forgotten.push(name);
  }
  const open = (slots: KeySlot[]): SecretstreamCipher => new SecretstreamCipher(keyRing.open(slots));
  const loaded = await loadIndex(storage, indexCipher, { open });
  // Marked before anything is deleted: a kept snapshot whose chunks the index lacks stops the prune untouched.
  const marked = await mark(storage, kept, loaded, indexCipher);
  if (!input.dryRun) for (const name of report.forgotten) await storage.delete(`${SNAPSHOTS_PREFIX}${name}`);
  const ages = new Map<string, { size: number; modified?: Date }>();
  for await (const object of storage.list(PACKS_PREFIX)) ages.set(object.key, object);
  const now = (input.now ?? new Date()).getTime();
  const young = (key: string): boolean => now - (ages.get(key)?.modified?.getTime() ?? now) < (input.graceMs ?? DEFAULT_GRACE_MS);
  const keep: IndexedPack[] = [];
  const sweep: string[] = [];
  loaded.all.forEach((pack, number) => {
    const used = marked.has(number);
    if (used || young(pack.key)) {
      keep.push(pack);
      if (!used) report.tooYoung++;
    } else sweep.push(pack.key);
  });
  // Packs no index names and no header of which could be read (another host's crashed run): swept once old enough.
  for (const key of loaded.unindexed) if (!young(key)) sweep.push(key);
  report.keptPacks = keep.length;
  report.removedPacks = sweep.length;
  report.removedBytes = sweep.reduce((n, key) => n + (ages.get(key)?.size ?? 0), 0);
  if (input.dryRun || sweep.length === 0) return report;
  await storage.put(newIndexKey(), encodeIndex(keep, indexCipher));
  crashPoint('prune-index-written');
  for (const [n, key] of loaded.indexObjects.entries()) {
    await storage.delete(key);
    crashPoint('prune-index-deleted', n + 1);
  }
  for (const [n, key] of sweep.entries()) {
    await storage.delete(key);
    crashPoint('prune-pack-deleted', n + 1);
  }
  return report;
}

/** The numbers of the packs that hold at least one chunk a kept snapshot references. */
async function mark(
  storage: Storage,
  snapshots: string[],
  loaded: Awaited<ReturnType<typeof loadIndex>>,
  indexCipher: SecretstreamCipher,
): Promise<Set<number>> {
  const used = new Set<number>();
  for (const key of snapshots) {
    const bytes = await storage.getBuffer(key);
    const what = `${storage.targetName}:${key}`;
    decodeSnapshotHeaderV2(bytes, what);
    for (const id of decodeSnapshotReferences(bytes, indexCipher, what)) {
      const at = loaded.index.get(id);
      if (!at) throw new FailsafeError('E_CORRUPT', `${what} uses chunk ${id.toString('hex')}, which no pack holds: nothing was pruned`);
      used.add(at.pack);
    }
  }
  return used;
}
