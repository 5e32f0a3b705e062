/**
 * The `.pre-restore-*` copies of the deployment's jobs that their
 * `restore.keepPrevious` lets expire (core/restore/previous-copies.ts):
 * found beside every live path (and database companion) of a job's sources
 * and beside the deeper paths partial restores moved aside (registered in
 * the state folder), named by `recover --list`, removed by the next restore
 * and by prune.
 */
import { basename, join } from 'node:path';
import { readRegistered, updateRegistered } from '../../core/restore/copy-registry.js';
import { copiesRemain, findExpiredCopies, livePathOf, removeExpiredCopies, type PreviousCopy, type ReplacedPath } from '../../core/restore/previous-copies.js';
import type { Deployment } from '../container.js';

export type { PreviousCopy };

/** Where in-place restores of this configuration left copies (core/restore/copy-registry.ts). */
function registryFile(deployment: Deployment): string {
  return join(deployment.stateDir, 'previous-copies', `${basename(deployment.loaded.file)}.json`);
}

/**
 * The live paths restores of the jobs with `restore.keepPrevious` replace, each with its job's age: every live
 * path of their sources, and the deeper ones partial restores (`--path`) moved aside.
 */
async function replacedPaths(deployment: Deployment, jobs: string[]): Promise<ReplacedPath[]> {
  const ages = new Map(
    jobs.flatMap((name): [string, number][] => {
      const keepMs = deployment.job(name).keepPreviousMs;
      return keepMs === undefined ? [] : [[name, keepMs]];
    }),
  );
  const configured = [...ages].flatMap(([name, keepMs]) =>
    deployment
      .sources(deployment.job(name))
      .flatMap((s) => s.liveLocations())
      .flatMap((loc) => [loc.livePath, ...(loc.companions ?? [])].map((path) => ({ job: name, path, keepMs }))),
  );
  const registered = (await readRegistered(registryFile(deployment))).flatMap(({ job, path }) => {
    const keepMs = ages.get(job);
    return keepMs === undefined ? [] : [{ job, path, keepMs }];
  });
  const seen = new Set<string>();
  return [...configured, ...registered].filter((r) => !seen.has(`${r.job}\0${r.path}`) && seen.add(`${r.job}\0${r.path}`));
}

/** Expired copies of the jobs (all by default), read-only. */
export async function expiredCopies(deployment: Deployment, options: { jobs?: string[]; now?: Date } = {}): Promise<PreviousCopy[]> {
  return findExpiredCopies(await replacedPaths(deployment, options.jobs ?? deployment.jobNames()), options.now ?? deployment.clock.now());
}

/** Removes the expired copies of the jobs (all by default); resolves with those removed. Registered paths without copies left are forgotten. */
export async function removeExpired(deployment: Deployment, options: { jobs?: string[]; now?: Date } = {}): Promise<PreviousCopy[]> {
  const removed = await removeExpiredCopies(await replacedPaths(deployment, options.jobs ?? deployment.jobNames()), options.now ?? deployment.clock.now());
  if (removed.length > 0) {
    const remaining = new Map<string, boolean>();
    for (const { path } of await readRegistered(registryFile(deployment))) remaining.set(path, await copiesRemain(path));
    await updateRegistered(registryFile(deployment), [], (entry) => remaining.get(entry.path) !== false);
  }
  return removed;
}

/** Records where an in-place restore of `job` left its copies, so that expiry finds those deep inside a source too. */
export async function registerCopies(deployment: Deployment, job: string, copies: string[]): Promise<void> {
  const paths = copies.flatMap((copy) => {
    const path = livePathOf(copy);
    return path ? [{ job, path }] : [];
  });
  if (paths.length > 0) await updateRegistered(registryFile(deployment), paths);
}

/** One line on an expired copy, for prune and `recover --list`. */
export function describeExpired(copy: PreviousCopy): string {
  return `${copy.path}, the data a restore replaced on ${copy.madeAt}, is older than job ${copy.job}'s restore.keepPrevious (${formatAge(copy.keepMs)})`;
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}
