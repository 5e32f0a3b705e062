/**
 * `status`: what each job has on each target, how old its newest snapshot
 * is, and an overall health (the original design's monitor_system_health:
 * ok, warning, critical). Read from the public manifest headers: no key.
 *
 * - critical: a job with no snapshot on any reachable target, or whose newest
 *   snapshot is older than its `alertAfter`.
 * - warning: a target of a job that is unreachable, empty, or older than
 *   `alertAfter` while another target is fresh; the daemon's last run of the
 *   job failed; its newest snapshot recorded warnings at backup; operations
 *   interrupted and waiting to be resumed; a target whose newest trusted
 *   snapshot is older than one this host saw there before (a rollback).
 */
import { asFailsafeError } from '../errors.js';
import { listSnapshots, PRE_RESTORE_TAG, type SnapshotInfo } from '../repository/snapshots.js';
import { newestSnapshots } from '../repository/newest-snapshots.js';
import { count } from '../util/count.js';
import { isFuture } from '../repository/layout.js';
import { repositoryBytes } from '../dedup/stats.js';
import type { Storage } from '../repository/storage.js';
import type { RetryCounts } from '../repository/retry-counts.js';
import type { ErrorStats } from '../checkpoints/error-history.js';

export type Health = 'ok' | 'warning' | 'critical';

export interface TargetStatus {
  target: string;
  snapshots: number;
  /** Bytes stored by this job's format-1 snapshots on the target. */
  storedBytes: number;
  /** The whole deduplicating repository in the target, shared by every job's v2 snapshots; absent when the job has none there. */
  repositoryBytes?: number;
  newest?: string;
  /** Set when the target could not be read. */
  error?: { code: string; message: string };
}

export interface JobStatus {
  job: string;
  health: Health;
  problems: string[];
  /** Creation time of the newest snapshot on any target. */
  lastSuccess?: string;
  ageSeconds?: number;
  alertAfterSeconds?: number;
  /** The daemon's last run of the job's backup, from its state file, with the transfers it tried again. */
  lastRun?: LastRun;
  /** The newest snapshot's size: source bytes, files, bytes stored. */
  lastSize?: { bytes: number; files: number; storedBytes: number };
  /** Warnings the newest snapshot's sources gave at backup; absent when none. */
  lastWarnings?: number;
  targets: TargetStatus[];
}

export interface StatusReport {
  health: Health;
  checkedAt: string;
  jobs: JobStatus[];
  /** Operations with checkpoints that did not complete (interrupted backups, batches). */
  unfinishedOperations: { operationId: string; name: string; state: string; progress: number; errors?: ErrorStats }[];
  problems: string[];
  /**
   * Set by `newestOnly`: drawn from each job's newest snapshot header alone
   * (core/repository/newest-snapshots.ts). A target's `snapshots` counts its
   * snapshot objects, listed, not read; `storedBytes` is 0 and
   * `repositoryBytes` absent; no rollback is looked for, and a snapshot dated
   * in the future is seen only among the headers read. The full report follows.
   */
  partial?: true;
}

export interface StatusJob {
  name: string;
  targets: Storage[];
  alertAfterMs?: number;
  lastRun?: LastRun;
  /** Whether the job's snapshots in a target went backwards against what this host saw there (a problem to report), if anything. */
  rollback?: (storage: Storage, snapshots: SnapshotInfo[]) => Promise<string | undefined>;
}

export interface LastRun {
  at: string;
  ok: boolean;
  error?: string;
  retries?: RetryCounts;
}

const RANK: Record<Health, number> = { ok: 0, warning: 1, critical: 2 };
export const worst = (a: Health, b: Health): Health => (RANK[b] > RANK[a] ? b : a);

export interface StatusOptions {
  now?: Date;
  unfinished?: StatusReport['unfinishedOperations'];
  /** Each job's newest snapshot header only, not every header: a first answer, `partial` (see StatusReport). */
  newestOnly?: boolean;
}

export async function collectStatus(jobs: StatusJob[], options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? new Date();
  const report: StatusReport = { health: 'ok', checkedAt: now.toISOString(), jobs: [], unfinishedOperations: options.unfinished ?? [], problems: [] };
  if (options.newestOnly) report.partial = true;
  for (const job of jobs) {
    const status = await jobStatus(job, now, options.newestOnly === true);
    report.jobs.push(status);
    report.health = worst(report.health, status.health);
  }
  if (report.unfinishedOperations.length > 0) {
    report.problems.push(`${report.unfinishedOperations.length} interrupted operation(s) can be resumed`);
    report.health = worst(report.health, 'warning');
  }
  for (const op of report.unfinishedOperations) {
    const problem = errorProblem(op.errors);
    if (problem) report.problems.push(`operation ${op.operationId}: ${problem}`);
    if (problem) report.health = worst(report.health, 'warning');
  }
  return report;
}

/** The seed's health check of an operation's error history: many errors, or retries that mostly do not help. */
function errorProblem(stats: ErrorStats | undefined): string | undefined {
  if (!stats) return undefined;
  if (stats.retrySuccessRate !== null && stats.retriedCalls >= 5 && stats.retrySuccessRate < 0.8) {
    return `only ${Math.round(stats.retrySuccessRate * 100)}% of ${stats.retriedCalls} retried calls recovered`;
  }
  return stats.total > 100 ? `${stats.total} errors recorded` : undefined;
}

async function jobStatus(job: StatusJob, now: Date, newestOnly: boolean): Promise<JobStatus> {
  const status: JobStatus = { job: job.name, health: 'ok', problems: [], targets: [] };
  if (job.alertAfterMs !== undefined) status.alertAfterSeconds = job.alertAfterMs / 1000;
  if (job.lastRun) status.lastRun = job.lastRun;
  const flag = (health: Health, problem: string): void => void ((status.health = worst(status.health, health)), status.problems.push(problem));
  let newest: SnapshotInfo | undefined;
  for (const storage of job.targets) {
    try {
      const { snapshots, objects } = newestOnly
        ? await newestSnapshots(storage, job.name, now)
        : { snapshots: await listSnapshots(storage, { job: job.name }) };
      // A restore's safety snapshot is not a backup run: the job's health follows its own backups.
      // One dated past the clock (forged, or a writer's clock far off) would make the job look fresh for ever.
      const [first, future] = [snapshots.find((s) => !s.tags?.includes(PRE_RESTORE_TAG) && !isFuture(s, now)), snapshots.find((s) => isFuture(s, now))];
      if (future) flag('warning', `target ${storage.targetName}: snapshot ${future.id} is dated in the future (${future.createdAt})`);
      // The rollback check compares every snapshot listed with what this host saw: the full report's.
      if (!newestOnly) await job.rollback?.(storage, snapshots).then((problem) => problem && flag('warning', problem));
      status.targets.push({
        target: storage.targetName,
        snapshots: objects ?? snapshots.length,
        storedBytes: newestOnly ? 0 : snapshots.filter((s) => s.format !== 2).reduce((sum, s) => sum + s.storedBytes, 0),
        ...(!newestOnly && snapshots.some((s) => s.format === 2) ? { repositoryBytes: await repositoryBytes(storage) } : {}),
        ...(first ? { newest: first.createdAt } : {}),
      });
      if (first && (!newest || first.createdAt > newest.createdAt)) newest = first;
    } catch (err) {
      const e = asFailsafeError(err);
      status.targets.push({ target: storage.targetName, snapshots: 0, storedBytes: 0, error: { code: e.code, message: e.message } });
    }
  }
  if (!newest) {
    flag('critical', status.targets.every((t) => t.error) ? 'no target can be read' : 'no snapshot yet');
  } else {
    status.lastSuccess = newest.createdAt;
    status.ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(newest.createdAt)) / 1000));
    status.lastSize = { bytes: newest.bytes, files: newest.files, storedBytes: newest.storedBytes };
    if (job.alertAfterMs !== undefined && status.ageSeconds * 1000 > job.alertAfterMs) {
      flag('critical', `no successful backup for ${formatAge(status.ageSeconds)} (alertAfter ${formatAge(job.alertAfterMs / 1000)})`);
    }
    if (newest.warnings) {
      status.lastWarnings = newest.warnings;
      flag(
        'warning',
        `the newest snapshot ${newest.id} recorded ${count(newest.warnings, 'warning')} at backup (a config file that does not parse, say): ` +
          'a drill or an in-place restore may refuse it; the backup printed them',
      );
    }
  }
  if (newest) {
    for (const t of status.targets) {
      if (t.error) flag('warning', `target ${t.target}: ${t.error.message}`);
      else if (!t.newest) flag('warning', `target ${t.target} holds no snapshot`);
      else if (job.alertAfterMs !== undefined && now.getTime() - Date.parse(t.newest) > job.alertAfterMs && t.newest !== newest.createdAt) {
        flag('warning', `target ${t.target} lags: its newest snapshot is from ${t.newest}`);
      }
    }
  }
  if (job.lastRun && !job.lastRun.ok && (!newest || Date.parse(job.lastRun.at) > Date.parse(newest.createdAt))) {
    flag('warning', `the daemon's last run (${job.lastRun.at}) failed: ${job.lastRun.error ?? 'unknown error'}`);
  }
  return status;
}

/** `3d 4h`, `25m`, `12s`: an age for people. */
export function formatAge(seconds: number): string {
  const s = Math.round(seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  if (days > 0) return hours > 0 ? `${days}d ${hours}h` : `${days}d`;
  if (hours > 0) return minutes > 0 ? `${hours}h ${minutes}m` : `${hours}h`;
  if (minutes > 0) return `${minutes}m`;
  return `${s}s`;
}
