/**
 * What `failsafe daemon` schedules for a deployment: each job's backup on
 * its `schedule`, and prune and drill on `schedules`. A run that reports a
 * failure rejects, so the state records it as failed.
 */
import type { LoadedConfig } from '../core/config/load.js';
import { FailsafeError } from '../core/errors.js';
import type { PruneReport } from '../core/maintenance/prune.js';
import type { SnapshotInfo } from '../core/repository/snapshots.js';
import type { DrillOptions, DrillReport } from '../core/restore/drill.js';
import type { PruneSelection } from './operations/maintenance.js';
import type { BackupOptions, BackupOutcome, Counted } from './options.js';
import type { RunDetails, ScheduledTask } from '../core/automation/scheduler.js';
import { backupTaskName } from '../core/automation/run-state.js';

/** What the daemon's tasks call: the Failsafe facade, named here by its shape so that the facade can load this module. */
export interface Schedulable {
  readonly config: LoadedConfig;
  backup(jobs: string[], options: BackupOptions): Promise<BackupOutcome & Counted>;
  list(options: { job?: string }): Promise<SnapshotInfo[]>;
  prune(options: PruneSelection): Promise<PruneReport>;
  drill(jobs: string[], options: DrillOptions): Promise<DrillReport & Counted>;
}

export function daemonTasks(failsafe: Schedulable, warn?: (message: string) => void): ScheduledTask[] {
  const { config } = failsafe.config;
  const tasks: ScheduledTask[] = [];
  const extra = warn ? { warn } : {};
  for (const job of Object.values(config.jobs)) {
    if (!job.schedule) continue;
    tasks.push({
      name: backupTaskName(job.name),
      cron: job.schedule,
      catchUp: job.catchUp,
      jitterMs: job.jitterMs,
      run: async (signal) => {
        const outcome = await failsafe.backup([job.name], { signal, ...extra });
        const failure = outcome.failures[0];
        const details = { retries: outcome.retries };
        if (failure) throw failed(failure.error.code, `${failure.target ? `target ${failure.target}: ` : ''}${failure.error.message}`, details);
        return details;
      },
      // Without a record, the newest snapshot tells when the job last ran.
      lastRunHint: async () => {
        const [newest] = await failsafe.list({ job: job.name }).catch(() => []);
        return newest ? new Date(newest.createdAt) : undefined;
      },
    });
  }
  if (config.schedules.prune) {
    tasks.push({
      name: 'prune',
      cron: config.schedules.prune,
      run: async (signal) => {
        const report = await failsafe.prune({ signal, ...extra });
        const first = report.errors[0];
        if (first) throw new FailsafeError(first.code as FailsafeError['code'], `target ${first.target}: ${first.message}`);
      },
    });
  }
  if (config.schedules.drill) {
    tasks.push({
      name: 'drill',
      cron: config.schedules.drill,
      run: async (signal) => {
        const report = await failsafe.drill([], { signal, ...extra });
        const details = { retries: report.retries };
        const failedJobs = report.jobs.filter((j) => !j.ok).map((j) => j.job);
        if (!report.ok) throw failed('E_RESTORE', `restore drill failed for ${failedJobs.join(', ')}`, details);
        return details;
      },
    });
  }
  return tasks;
}

/** A failed run's error, carrying what the state records besides it (core/automation/scheduler.ts, RunDetails). */
function failed(code: FailsafeError['code'], message: string, details: RunDetails): FailsafeError {
  return Object.assign(new FailsafeError(code, message), { details });
}
