/**
 * Prune: apply each job's retention policy to each of its targets, and clear
 * what interrupted backups left behind. A snapshot is removed manifest first,
 * so it disappears at once and a crash mid-removal leaves only an orphan,
 * which the next prune clears. Never removed: the last snapshot of a job in
 * a target, and a snapshot whose manifest is under a retention lock.
 */
import type { PreviousCopy } from '../restore/previous-copies.js';
import type { DedupPruneProgress, DedupPruneReport } from '../dedup/prune.js';
import { asFailsafeError, FailsafeError } from '../errors.js';
import { isDeduplicating, prunePacks, type PackPruneSettings } from './prune-packs.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { Repository } from '../repository/repository.js';
import type { SnapshotInfo } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import { compareText } from '../util/order.js';

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
  /** How deduplicating targets are swept after retention (keys, pack size); such targets are skipped with an error without it. */
  packs?: PackPruneSettings;
  onProgress?: (progress: PruneProgress) => void;
}

/**
 * One step of a prune, counting up to its `total`: `snapshots`, a job's snapshots in a target decided (and removed);
 * on a deduplicating target, `mark`, the kept snapshots read, and `delete`, the packs deleted with their `bytes`.
 */
export interface PruneProgress extends Omit<DedupPruneProgress, 'step'> {
  step: 'snapshots' | DedupPruneProgress['step'];
  target: string;
  job?: string;
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
  /** Per deduplicating target: the packs swept and repacked. */
  packs: Record<string, DedupPruneReport>;
  /** `.pre-restore-*` copies older than their job's `restore.keepPrevious`: removed (or, in a dry run, to be removed). */
  previousCopies: PreviousCopy[];
  errors: { target: string; job?: string; code: string; message: string }[];
}

export const DEFAULT_ORPHAN_GRACE_MS = 24 * 60 * 60 * 1000;

export async function prune(tasks: PruneTask[], options: PruneOptions = {}): Promise<PruneReport> {
  const now = options.now ?? new Date();
  const grace = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  const report: PruneReport = { dryRun: options.dryRun === true, snapshots: [], orphans: [], tempRemoved: {}, packs: {}, previousCopies: [], errors: [] };
  const fail = (target: string, job: string | undefined, err: unknown): void => {
    if (options.signal?.aborted) throw err;
    const e = asFailsafeError(err);
    report.errors.push({ target, ...(job ? { job } : {}), code: e.code, message: e.message });
  };

  for (const task of tasks) {
    try {
      report.snapshots.push(...(await pruneSnapshots(task, now, options)));
      report.orphans.push(...(await pruneOrphans(new Repository(task.storage), task.job, now.getTime() - grace, options)));
    } catch (err) {
      fail(task.storage.targetName, task.job, err);
    }
  }
  for (const storage of new Set(tasks.map((t) => t.storage))) {
    try {
      if (!(await isDeduplicating(storage, options.signal ? { signal: options.signal } : {}))) continue;
      if (!options.packs)
        throw new FailsafeError('E_USAGE', `target "${storage.targetName}" is a deduplicating repository: its packs are swept by failsafe prune`);
      const { onProgress, ...rest } = options;
      const sweep = onProgress ? { onProgress: (p: DedupPruneProgress): void => onProgress({ ...p, target: storage.targetName }) } : {};
      report.packs[storage.targetName] = await prunePacks(storage, options.packs, { ...rest, now, ...sweep });
    } catch (err) {
      fail(storage.targetName, undefined, err);
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
  const repository = new Repository(storage);
  const snapshots = await repository.listSnapshots({ job, ...(options.warn ? { warn: options.warn } : {}) });
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
  decisions.sort((a, b) => compareText(b.snapshot.createdAt, a.snapshot.createdAt));
  const out: PruneDecision[] = [];
  const opts = options.signal ? { signal: options.signal } : {};
  for (const d of decisions) {
    const { id, createdAt, format } = d.snapshot;
    if (!d.keep) {
      const lockedUntil = await repository.snapshotLockedUntil(job, id, format ?? 1, opts);
      if (lockedUntil && lockedUntil.getTime() > now.getTime()) {
        d.keep = true;
        d.reasons.push(`locked until ${lockedUntil.toISOString()}`);
      }
    }
    if (!d.keep && !options.dryRun) await repository.deleteSnapshot(job, id, opts);
    out.push({ id, job, target: storage.targetName, createdAt, action: d.keep ? 'keep' : 'remove', reasons: d.reasons });
    options.onProgress?.({ step: 'snapshots', target: storage.targetName, job, done: out.length, total: decisions.length });
  }
  return out;
}

/** Segments of a job with no manifest, all older than `cutoff`: left by a crashed backup or an interrupted prune. */
async function pruneOrphans(repository: Repository, job: string, cutoff: number, options: PruneOptions): Promise<PrunedOrphan[]> {
  const opts = options.signal ? { signal: options.signal } : {};
  const removed: PrunedOrphan[] = [];
  for (const [id, objects] of await repository.unfinished(job, opts)) {
    // An object of unknown age may belong to a backup in progress; a removal prune began is finished at once.
    const young = objects.some((o) => o.modified === undefined || o.modified.getTime() > cutoff);
    if (young && !repository.isForgotten(job, id, objects)) continue;
    // Only the objects listed: a manifest that appeared since the listing means a backup finished, and nothing goes.
    if (!options.dryRun && !(await repository.removeUnfinished(job, id, { ...opts, objects: objects.map((o) => o.key) }))) continue;
    removed.push({ target: repository.targetName, job, id, objects: objects.length, bytes: objects.reduce((sum, o) => sum + o.size, 0) });
  }
  return removed;
}
