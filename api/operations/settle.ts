/**
 * Restores a crash interrupted, as every command that touches a deployment
 * meets them: settled first (restore, backup, prune, recover, the daemon),
 * or only read and reported (status, `recover --list`); a backup is refused
 * for a job whose live data one still stands in the way of.
 */
import { join, sep } from 'node:path';
import type { JobConfig } from '../../core/config/load.js';
import type { SourcePlugin } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { findOrphanStaging, removeOrphanStaging, type StagedSource } from '../../core/restore/orphan-staging.js';
import { findRestores, recoverRestores, type RecoveredRestore, type UnsettledRestore } from '../../core/restore/swap.js';
import type { Deployment } from '../container.js';

/** Restore journals live beside the configuration file, which every later run of this deployment reads. */
export function journalDir(deployment: Deployment): string {
  return join(deployment.stateDir, 'restore-journal');
}

/** Every configured source with a live path, where a restore of it stages. */
function stagedSources(deployment: Deployment): StagedSource[] {
  return deployment.jobNames().flatMap((name) =>
    deployment.sources(deployment.job(name)).flatMap((s) => {
      const first = s.liveLocations()[0];
      return first ? [{ name: s.name, livePath: first.livePath }] : [];
    }),
  );
}

/** Settles dead restores by their journals, then removes the staging folders no journal names (by the rule of state `staging`). */
export async function settleRestores(deployment: Deployment): Promise<RecoveredRestore[]> {
  const settled = await recoverRestores(journalDir(deployment));
  const orphans = await removeOrphanStaging(journalDir(deployment), stagedSources(deployment));
  return [...settled, ...orphans.map((path): RecoveredRestore => ({ outcome: 'cleaned-up', paths: [], withoutJournal: path }))];
}

/** Restores a crash left unsettled (and those running now), and staging folders no journal names, read-only: what `status` and `recover --list` show. */
export async function unsettledRestores(deployment: Deployment): Promise<UnsettledRestore[]> {
  const journals = await findRestores(journalDir(deployment));
  const orphans = await findOrphanStaging(journalDir(deployment), stagedSources(deployment));
  const orphan = (path: string): UnsettledRestore => ({
    journal: path,
    running: false,
    state: 'staging',
    action: 'remove-staging',
    paths: [],
    staging: [path],
    withoutJournal: true,
  });
  return [...journals, ...orphans.map(orphan)];
}

const WITHOUT_JOURNAL = 'by a restore that died before it changed live data, or by a version before the restore journal';

export function describeRecovery(r: RecoveredRestore): string {
  if (r.withoutJournal !== undefined) return `removed the staging folder ${r.withoutJournal}, which no restore journal named (left ${WITHOUT_JOURNAL})`;
  const what = {
    'rolled-back': 'was rolled back: the previous data is back in place at',
    completed: 'had completed; finished it for',
    'cleaned-up': 'had changed no live data; removed its staging folders for',
  }[r.outcome];
  const paths = r.paths.length > 0 ? r.paths.join(', ') : 'its sources';
  const safety = r.safetySnapshot ? ` (its safety snapshot ${r.safetySnapshot} is kept)` : '';
  return `an interrupted restore of ${r.snapshot} (started ${r.startedAt}) ${what} ${paths}${safety}`;
}

/** One line on an unsettled restore: what it left and what settling it (any command but status and `recover --list`) does. */
export function describeUnsettled(r: UnsettledRestore): string {
  if (r.unreadable !== undefined) return r.unreadable;
  if (r.withoutJournal) return `a staging folder no restore journal names, ${r.journal} (left ${WITHOUT_JOURNAL}): the next command removes it`;
  const what = `a restore of ${r.snapshot} (started ${r.startedAt})`;
  const safety = r.safetySnapshot ? `; its safety snapshot ${r.safetySnapshot} is kept` : '';
  const staging = r.staging.length > 0 ? ` ${r.staging.join(', ')}` : '';
  if (r.running) return `${what} is running (${r.state === 'staging' ? 'staging' : `swapping ${r.paths.join(', ')}`})`;
  if (r.action === 'roll-back')
    return `${what} was interrupted while swapping: the live data at ${r.paths.join(', ')} may be part old, part new; the next command rolls it back to the old data${safety}`;
  if (r.action === 'finish') return `${what} was interrupted after it committed: the next command removes what it left${staging}${safety}`;
  return `${what} was interrupted before it changed live data: the next command removes its staging folders${staging}${safety}`;
}

/** Whether live data of the job may be part of an unsettled restore: a journal's paths overlap a source's, or it cannot be read. */
function touches(r: UnsettledRestore, sources: SourcePlugin[]): boolean {
  if (r.unreadable !== undefined) return true;
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(sep) ? b : `${b}${sep}`);
  const live = sources.flatMap((s) => s.liveLocations().map((l) => l.livePath));
  return r.paths.some((p) => live.some((l) => inside(p, l) || inside(l, p)));
}

/**
 * Before a backup reads live data: settles interrupted restores, then names
 * per job the restore that still stands in the way (one running its swap now,
 * or a journal that cannot be read), for the job to be refused rather than
 * store part-old, part-new data as its newest snapshot.
 */
export async function settleForBackup(deployment: Deployment, jobs: JobConfig[], warn?: (m: string) => void): Promise<Map<string, FailsafeError>> {
  try {
    for (const r of await settleRestores(deployment)) warn?.(describeRecovery(r));
  } catch {
    // a journal that cannot be read: found again below, and refused
  }
  const blocking = (await unsettledRestores(deployment)).filter((r) => r.unreadable !== undefined || (r.running && r.state !== 'staging'));
  const refused = new Map<string, FailsafeError>();
  for (const job of jobs) {
    const r = blocking.find((b) => touches(b, deployment.sources(job)));
    if (r) refused.set(job.name, new FailsafeError('E_RESTORE_UNSETTLED', `not backed up, ${describeUnsettled(r)}`));
  }
  return refused;
}
