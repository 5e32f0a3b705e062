/**
 * The `.pre-restore-*` copies of the deployment's jobs that their
 * `restore.keepPrevious` lets expire (core/restore/previous-copies.ts):
 * found beside every live path (and database companion) of a job's sources,
 * named by `recover --list`, removed by the next restore and by prune.
 */
import { findExpiredCopies, removeExpiredCopies, type PreviousCopy, type ReplacedPath } from '../../core/restore/previous-copies.js';
import type { Deployment } from '../container.js';

export type { PreviousCopy };

/** The live paths restores of the jobs with `restore.keepPrevious` replace, each with its job's age. */
function replacedPaths(deployment: Deployment, jobs: string[]): ReplacedPath[] {
  return jobs.flatMap((name) => {
    const job = deployment.job(name);
    const keepMs = job.keepPreviousMs;
    if (keepMs === undefined) return [];
    return deployment
      .sources(job)
      .flatMap((s) => s.liveLocations())
      .flatMap((loc) => [loc.livePath, ...(loc.companions ?? [])].map((path) => ({ job: name, path, keepMs })));
  });
}

/** Expired copies of the jobs (all by default), read-only. */
export function expiredCopies(deployment: Deployment, options: { jobs?: string[]; now?: Date } = {}): Promise<PreviousCopy[]> {
  return findExpiredCopies(replacedPaths(deployment, options.jobs ?? deployment.jobNames()), options.now ?? deployment.clock.now());
}

/** Removes the expired copies of the jobs (all by default); resolves with those removed. */
export function removeExpired(deployment: Deployment, options: { jobs?: string[]; now?: Date } = {}): Promise<PreviousCopy[]> {
  return removeExpiredCopies(replacedPaths(deployment, options.jobs ?? deployment.jobNames()), options.now ?? deployment.clock.now());
}

/** One line on an expired copy, for prune and `recover --list`. */
export function describeExpired(copy: PreviousCopy): string {
  return `${copy.path}, the data a restore replaced on ${copy.madeAt}, is older than job ${copy.job}'s restore.keepPrevious (${formatAge(copy.keepMs)})`;
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}
