/** Keeping a deployment healthy: prune by retention, and the status of every job. */
import { backupTaskName, FileRunState } from '../../core/automation/run-state.js';
import type { ForgetReport } from '../../core/maintenance/forget.js';
import type { PruneOptions, PruneReport, PruneTask } from '../../core/maintenance/prune.js';
import type { PackPruneSettings } from '../../core/maintenance/prune-packs.js';
import type { StatusReport } from '../../core/status/status.js';
import { pickDefined } from '../../core/util/defined.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';
import { describeRollback } from '../../core/repository/rollback.js';
import type { SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Storage } from '../../core/repository/storage.js';
import { checkpointStore } from './checkpoints.js';
import { watchRollback } from './rollback.js';
import { dedupKeyRing, isWriteOnly } from './dedup-backup.js';
import { expiredCopies, removeExpired } from './previous-copies.js';
import { describeRecovery, describeUnsettled, settleRestores, unsettledRestores } from './settle.js';

export type { ForgetReport };
export type PruneSelection = SelectOptions & Omit<PruneOptions, 'timeZone'>;

export async function prune(deployment: Deployment, options: PruneSelection): Promise<PruneReport> {
  if (options.target) deployment.storage(options.target);
  // Leftovers of a dead restore (staging folders, replaced copies it had committed to drop) go with the other leftovers.
  if (options.dryRun) for (const r of await unsettledRestores(deployment)) options.warn?.(describeUnsettled(r));
  else for (const r of await settleRestores(deployment)) options.warn?.(describeRecovery(r));
  const tasks: PruneTask[] = [];
  for (const name of options.job ? [options.job] : deployment.jobNames()) {
    const job = deployment.job(name);
    for (const target of job.targets) {
      if (options.target && options.target !== target) continue;
      tasks.push({ job: name, storage: deployment.storage(target), policy: job.retentionPerTarget[target] ?? job.retention });
    }
  }
  const { timeZone } = deployment.config;
  const { prune: run } = await import('../../core/maintenance/prune.js');
  const report = await run(tasks, { ...options, packs: packSettings(deployment), ...(timeZone ? { timeZone } : {}) });
  // Replaced live data a restore kept, past its job's restore.keepPrevious: a leftover as well, on this host.
  const copies = { ...(options.job ? { jobs: [options.job] } : {}), ...(options.now ? { now: options.now } : {}) };
  report.previousCopies = options.dryRun ? await expiredCopies(deployment, copies) : await removeExpired(deployment, copies);
  return report;
}

/** How deduplicating targets' packs are swept: with the deployment's keys, locking its jobs. */
function packSettings(deployment: Deployment): PackPruneSettings {
  const { repository } = deployment.config;
  return {
    keyRing: () => dedupKeyRing(deployment, 'open'),
    writeOnly: isWriteOnly(deployment),
    jobs: deployment.jobNames(),
    ...(repository.packSize === undefined ? {} : { packSize: repository.packSize }),
  };
}

export interface ForgetSelection extends SelectOptions {
  dryRun?: boolean;
  /** Sweep freed packs of deduplicating targets now instead of at the next prune. */
  prune?: boolean;
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

/** Removes the named snapshots from the selected targets (every target that has them by default), with prune's safety. */
export async function forget(deployment: Deployment, refs: string[], options: ForgetSelection): Promise<ForgetReport> {
  if (options.job) deployment.job(options.job);
  const storages = options.target ? [deployment.storage(options.target)] : Object.keys(deployment.config.targets).map((name) => deployment.storage(name));
  const { forget: run } = await import('../../core/maintenance/forget.js');
  const { prune: sweep, target: _target, ...rest } = options;
  return run(storages, refs, { ...rest, ...(sweep ? { sweep: packSettings(deployment) } : {}), now: deployment.clock.now() });
}

export async function status(deployment: Deployment, options: { job?: string; now?: Date; newestOnly?: boolean }): Promise<StatusReport> {
  const runs = await new FileRunState(deployment.config.stateFile).records();
  const jobs = (options.job ? [options.job] : deployment.jobNames()).map((name) => {
    const job = deployment.job(name);
    const run = runs.get(backupTaskName(name));
    const lastRun = run && { at: run.lastRun, ok: run.ok, ...pickDefined({ error: run.error, retries: run.retries }) };
    const rollback = async (storage: Storage, listed: SnapshotInfo[]): Promise<string | undefined> => {
      const found = await watchRollback(deployment, storage, name, { listed });
      return found && describeRollback(found);
    };
    return { name, targets: deployment.targetsOf(job), rollback, ...pickDefined({ alertAfterMs: job.alertAfterMs, lastRun }) };
  });
  let unfinished: StatusReport['unfinishedOperations'] = [];
  try {
    const operations = await checkpointStore(deployment, options.job ? { job: options.job } : {}).recoverable();
    unfinished = operations.map(({ operationId, operationName, state, progress, errors }) => ({
      operationId,
      name: operationName,
      state,
      progress,
      ...(errors ? { errors } : {}),
    }));
  } catch {
    // an unreachable checkpoint target is already reported as its job's target problem
  }
  const { collectStatus, worst } = await import('../../core/status/status.js');
  const report = await collectStatus(jobs, { now: options.now ?? deployment.clock.now(), unfinished, newestOnly: options.newestOnly === true });
  // Read, not settled: status changes nothing. Live data that may be part old, part new is critical; leftovers only warn.
  for (const r of await unsettledRestores(deployment)) {
    report.problems.push(describeUnsettled(r));
    report.health = worst(report.health, r.unreadable !== undefined || (!r.running && r.state === 'swapping') ? 'critical' : 'warning');
  }
  return report;
}
