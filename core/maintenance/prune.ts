/**
 * Prune: apply each job's retention policy to each of its targets, and clear
 * what interrupted backups left behind. A snapshot is removed manifest first,
 * so it disappears at once and a crash mid-removal leaves only an orphan,
 * which the next prune clears. Never removed: the last snapshot of a job in
 * a target, and a snapshot whose manifest is under a retention lock.
 */
import { asFailsafeError } from '../errors.js';
import { MANIFESTS_PREFIX, manifestKey, parseManifestKey, snapshotDataPrefix } from '../repository/layout.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { listSnapshots, type SnapshotInfo } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';

export interface PruneTask {
  job: string;
  storage: Storage;
  policy: RetentionPolicy;
}

export interface PruneOptions {
  dryRun?: boolean;
  now?: Date;
  timeZone?: string;
  /** Objects without a manifest, and temp files, younger than this are left alone (a backup may be writing them). */
  orphanGraceMs?: number;
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

export interface PruneDecision {
  id: string;
  job: string;
  target: string;
  createdAt: string;
  action: 'keep' | 'remove';
  /** Why it is kept: the rules that keep it, `last snapshot of the job`, `locked until …`. */
  reasons: string[];
}

export interface PrunedOrphan {
  target: string;
  job: string;
  /** The snapshot id the objects were written for. */
  id: string;
  objects: number;
  bytes: number;
}

export interface PruneReport {
  dryRun: boolean;
  snapshots: PruneDecision[];
  orphans: PrunedOrphan[];
  /** Temp files or abandoned uploads removed, per target whose adapter can clean them (not counted in a dry run). */
  tempRemoved: Record<string, number>;
  errors: { target: string; job?: string; code: string; message: string }[];
}

export const DEFAULT_ORPHAN_GRACE_MS = 24 * 60 * 60 * 1000;

export async function prune(tasks: PruneTask[], options: PruneOptions = {}): Promise<PruneReport> {
  const now = options.now ?? new Date();
  const grace = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  const report: PruneReport = { dryRun: options.dryRun === true, snapshots: [], orphans: [], tempRemoved: {}, errors: [] };
  const fail = (target: string, job: string | undefined, err: unknown): void => {
    if (options.signal?.aborted) throw err;
    const e = asFailsafeError(err);
    report.errors.push({ target, ...(job ? { job } : {}), code: e.code, message: e.message });
  };

  for (const task of tasks) {
    try {
      report.snapshots.push(...(await pruneSnapshots(task, now, options)));
      report.orphans.push(...(await pruneOrphans(task.storage, task.job, now.getTime() - grace, options)));
    } catch (err) {
      fail(task.storage.targetName, task.job, err);
    }
  }
  if (!options.dryRun) {
    for (const storage of new Set(tasks.map((t) => t.storage))) {
      try {
        const removed = await storage.cleanupTemp(grace);
        if (removed !== undefined) report.tempRemoved[storage.targetName] = removed;
      } catch (err) {
        fail(storage.targetName, undefined, err);
      }
    }
  }
  return report;
}

async function pruneSnapshots(task: PruneTask, now: Date, options: PruneOptions): Promise<PruneDecision[]> {
  const { storage, job } = task;
  const snapshots = await listSnapshots(storage, { job, ...(options.warn ? { warn: options.warn } : {}) });
  // Safety snapshots taken before restores are kept by the same rules in their own group, so they never push regular backups out.
  const groups = new Map<string, SnapshotInfo[]>();
  for (const snapshot of snapshots) {
    const group = (snapshot.tags ?? []).slice().sort().join(',');
    groups.set(group, [...(groups.get(group) ?? []), snapshot]);
  }
  const decisions = [...groups.entries()].flatMap(([group, members]) => {
    const decided = applyRetention<SnapshotInfo>(members, task.policy, { now, ...(options.timeZone ? { timeZone: options.timeZone } : {}) });
    const newest = decided[0];
    if (newest && !decided.some((d) => d.keep)) {
      newest.keep = true;
      newest.reasons.push(group === '' ? 'last snapshot of the job' : `last ${group} snapshot of the job`);
    }
    return decided;
  });
  decisions.sort((a, b) => b.snapshot.createdAt.localeCompare(a.snapshot.createdAt));
  const out: PruneDecision[] = [];
  for (const d of decisions) {
    const { id, createdAt } = d.snapshot;
    if (!d.keep) {
      const lockedUntil = await storage.lockedUntil(manifestKey(job, id), { ...(options.signal ? { signal: options.signal } : {}) });
      if (lockedUntil && lockedUntil.getTime() > now.getTime()) {
        d.keep = true;
        d.reasons.push(`locked until ${lockedUntil.toISOString()}`);
      }
    }
    if (!d.keep && !options.dryRun) await removeSnapshot(storage, job, id, options.signal);
    out.push({ id, job, target: storage.targetName, createdAt, action: d.keep ? 'keep' : 'remove', reasons: d.reasons });
  }
  return out;
}

/** The manifest first: from then on the snapshot does not exist, whatever happens to its segments. */
async function removeSnapshot(storage: Storage, job: string, id: string, signal?: AbortSignal): Promise<void> {
  const opts = signal ? { signal } : {};
  await storage.delete(manifestKey(job, id), opts);
  for await (const object of storage.list(snapshotDataPrefix(job, id), opts)) await storage.delete(object.key, opts);
}

/** Segments of a job with no manifest, all older than `cutoff`: left by a crashed backup or an interrupted prune. */
async function pruneOrphans(storage: Storage, job: string, cutoff: number, options: PruneOptions): Promise<PrunedOrphan[]> {
  const opts = options.signal ? { signal: options.signal } : {};
  const manifests = new Set<string>();
  for await (const object of storage.list(`${MANIFESTS_PREFIX}${job}/`, opts)) {
    const parsed = parseManifestKey(object.key);
    if (parsed) manifests.add(parsed.id);
  }
  const groups = new Map<string, { objects: string[]; bytes: number; fresh: boolean }>();
  for await (const object of storage.list(`data/${job}/`, opts)) {
    const id = object.key.split('/')[2];
    if (id === undefined || manifests.has(id)) continue;
    const group = groups.get(id) ?? { objects: [], bytes: 0, fresh: false };
    group.objects.push(object.key);
    group.bytes += object.size;
    // An object of unknown age may belong to a backup in progress.
    if (object.modified === undefined || object.modified.getTime() > cutoff) group.fresh = true;
    groups.set(id, group);
  }
  const removed: PrunedOrphan[] = [];
  for (const [id, group] of groups) {
    if (group.fresh) continue;
    if (!options.dryRun) {
      // A manifest that appeared since the listing means a backup finished: not an orphan.
      if (await storage.exists(manifestKey(job, id), opts)) continue;
      for (const key of group.objects) await storage.delete(key, opts);
    }
    removed.push({ target: storage.targetName, job, id, objects: group.objects.length, bytes: group.bytes });
  }
  return removed;
}
