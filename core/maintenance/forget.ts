/**
 * Forget: remove snapshots named by id, with prune's safety. Never removed:
 * a job's last snapshot in a target (of its tag group, as prune keeps one per
 * group), and a snapshot whose manifest is under a retention lock; each is
 * reported kept, with why. A snapshot is removed holding its job's lock in
 * that target, manifest first (Repository.deleteSnapshot): it disappears at
 * once, and a crash mid-way leaves an orphan the next prune clears. A format
 * 1 snapshot's segments go with it; a format 2 snapshot's packs are shared,
 * and those only it used are swept by the next prune (`sweep` does it now).
 */
import type { DedupPruneReport } from '../dedup/prune.js';
import { FailsafeError } from '../errors.js';
import { acquireJobLock } from '../repository/locks.js';
import { Repository } from '../repository/repository.js';
import type { SnapshotInfo } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import type { PruneDecision } from './prune.js';
import { isDeduplicating, prunePacks, type PackPruneSettings } from './prune-packs.js';

export interface ForgetOptions {
  job?: string;
  dryRun?: boolean;
  /** Sweep the packs of deduplicating targets right after (as prune does); without it the next prune does. */
  sweep?: PackPruneSettings;
  now?: Date;
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ForgetReport {
  dryRun: boolean;
  /** Each snapshot the ids named, per target: removed, or kept and why. */
  snapshots: PruneDecision[];
  /** Deduplicating targets whose packs the forgotten snapshots may have freed: swept (`packs`) or left for the next prune. */
  packs: Record<string, DedupPruneReport>;
  sweepPending: string[];
}

/** The snapshots each ref names in each target: every ref must name one somewhere (or nothing is removed), and at most one per target. */
async function resolve(storages: Storage[], refs: string[], options: ForgetOptions): Promise<Map<Storage, SnapshotInfo[]>> {
  const found = new Map<Storage, SnapshotInfo[]>();
  const listed = new Map<Storage, SnapshotInfo[]>();
  for (const storage of storages) {
    listed.set(
      storage,
      await new Repository(storage).listSnapshots({ ...(options.job ? { job: options.job } : {}), ...(options.warn ? { warn: options.warn } : {}) }),
    );
  }
  for (const ref of refs) {
    if (ref === 'latest' || ref === '') throw new FailsafeError('E_USAGE', `forget takes snapshot ids (or unique prefixes of them), not "${ref}"`);
    let any = false;
    for (const [storage, all] of listed) {
      const exact = all.filter((s) => s.id === ref);
      const matches = exact.length > 0 ? exact : all.filter((s) => s.id.startsWith(ref));
      if (matches.length > 1) throw new FailsafeError('E_USAGE', `snapshot "${ref}" is ambiguous in target "${storage.targetName}" (${matches.length} match)`);
      if (matches.length === 0) continue;
      any = true;
      const chosen = found.get(storage) ?? [];
      if (!chosen.some((s) => s.id === matches[0]!.id)) chosen.push(matches[0]!);
      found.set(storage, chosen);
    }
    if (!any)
      throw new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${ref}" not found${options.job ? ` for job "${options.job}"` : ''}: nothing was removed`);
  }
  return found;
}

const groupOf = (s: SnapshotInfo): string => (s.tags ?? []).slice().sort().join(',');

/** Why a snapshot is kept though named: the last of its job and group in the target, or locked. */
async function keptBecause(repository: Repository, snapshot: SnapshotInfo, named: SnapshotInfo[], all: SnapshotInfo[], now: Date): Promise<string[]> {
  const reasons: string[] = [];
  const group = groupOf(snapshot);
  const members = all.filter((s) => s.job === snapshot.job && groupOf(s) === group);
  const left = members.filter((s) => !named.some((n) => n.id === s.id));
  // As prune: the newest of a group being emptied stays.
  if (left.length === 0 && members[0]?.id === snapshot.id) reasons.push(group === '' ? 'last snapshot of the job' : `last ${group} snapshot of the job`);
  const lockedUntil = await repository.snapshotLockedUntil(snapshot.job, snapshot.id, snapshot.format ?? 1);
  if (lockedUntil && lockedUntil.getTime() > now.getTime()) reasons.push(`locked until ${lockedUntil.toISOString()}`);
  return reasons;
}

export async function forget(storages: Storage[], refs: string[], options: ForgetOptions = {}): Promise<ForgetReport> {
  if (refs.length === 0) throw new FailsafeError('E_USAGE', 'forget needs at least one snapshot id');
  const now = options.now ?? new Date();
  const report: ForgetReport = { dryRun: options.dryRun === true, snapshots: [], packs: {}, sweepPending: [] };
  const opts = options.signal ? { signal: options.signal } : {};
  for (const [storage, named] of await resolve(storages, refs, options)) {
    const repository = new Repository(storage);
    const all = await repository.listSnapshots(options.job ? { job: options.job } : {});
    for (const snapshot of named) {
      const reasons = await keptBecause(repository, snapshot, named, all, now);
      const decision: PruneDecision = {
        id: snapshot.id,
        job: snapshot.job,
        target: storage.targetName,
        createdAt: snapshot.createdAt,
        action: 'remove',
        reasons,
      };
      if (reasons.length > 0) decision.action = 'keep';
      else if (!options.dryRun) {
        // A backup of the job is not writing here meanwhile, nor a prune sweeping its packs.
        const lock = await acquireJobLock([storage], snapshot.job, options.warn ? { warn: options.warn } : {});
        try {
          await repository.deleteSnapshot(snapshot.job, snapshot.id, opts);
        } finally {
          await lock.release().catch(() => undefined);
        }
      }
      report.snapshots.push(decision);
    }
    if (!named.some((s) => report.snapshots.some((d) => d.id === s.id && d.target === storage.targetName && d.action === 'remove'))) continue;
    if (!(await isDeduplicating(storage, opts))) continue;
    if (options.sweep && !options.dryRun) report.packs[storage.targetName] = await prunePacks(storage, options.sweep, { ...options, now });
    else report.sweepPending.push(storage.targetName);
  }
  return report;
}
