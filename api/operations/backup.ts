/**
 * Backing up a deployment's jobs, one after the other: per job its lock,
 * hooks, journal (resume), notifications and the engine run
 * (core/backup/run-backup.ts) with the stages its container chose.
 */
import { availableParallelism } from 'node:os';
import type { NotifyEvent } from '../../core/automation/notify.js';
import type { BackupRunOptions, BackupSettings, SnapshotSummary } from '../../core/backup/run-backup.js';
import type { BackupJobResult } from '../../core/backup/types.js';
import type { PipelineStages } from '../../core/codec/stages.js';
import type { JobConfig } from '../../core/config/load.js';
import { NAME_PATTERN } from '../../core/config/schema.js';
import { asFailsafeError, FailsafeError } from '../../core/errors.js';
import { PRE_RESTORE_TAG } from '../../core/repository/snapshots.js';
import { acquireJobLock, type HeldLock } from '../../core/repository/locks.js';
import { pickDefined } from '../../core/util/defined.js';
import type { Deployment } from '../container.js';
import type { BackupFailure, BackupOptions, BackupOutcome } from '../options.js';
import { unfiltered } from '../source-filters.js';
import { withTotals } from './backup-totals.js';
import { checkpointStore } from './checkpoints.js';
import { recordOwnSnapshots, warnIfSeenGone } from './rollback.js';
import { settleForBackup } from './settle.js';

/** Where a backup's progress, snapshots and failures go (the facade's events). */
export interface BackupSink {
  progress: BackupRunOptions['onProgress'];
  snapshot(summary: SnapshotSummary): void;
  failure(failure: BackupFailure): void;
}

/** What a job's backups run with: its stages, the deployment's keys and sizes. */
export async function backupSettings(deployment: Deployment, job: string): Promise<BackupSettings> {
  const { config } = deployment;
  return {
    stages: deployment.stages(job),
    encryption: await deployment.encryption(),
    segmentSize: config.segmentSize,
    parallelism: config.parallelism ?? availableParallelism(),
  };
}

/** The journal's record of what wrote the segments: a resumed run reuses them only if it writes the same way. */
function stagesName({ compression, checksum }: PipelineStages): string {
  return `${compression.algorithm}-${compression.level}${checksum.name === 'sha256' ? '' : `/${checksum.name}`}`;
}

/** User tags: names as the YAML's, and never `pre-restore`, which marks a restore's safety snapshot (skipped by `latest`). */
function checkTags(tags: string[] | undefined): void {
  for (const tag of tags ?? []) {
    if (!NAME_PATTERN.test(tag)) throw new FailsafeError('E_USAGE', `tag "${tag}": use letters, digits, ".", "_" and "-", starting with a letter or digit`);
    if (tag === PRE_RESTORE_TAG) throw new FailsafeError('E_USAGE', `tag "${tag}" is reserved for the snapshots a restore takes of the data it replaces`);
  }
}

export async function backupJobs(deployment: Deployment, names: string[], options: BackupOptions, sink: BackupSink): Promise<BackupOutcome> {
  checkTags(options.tags);
  const selected = (names.length > 0 ? names : deployment.jobNames()).map((name) => deployment.job(name));
  const filters = pickDefined({ exclude: options.exclude, include: options.include });
  for (const job of selected) {
    deployment.sources(job, filters); // a filter a source refuses is refused before anything runs
    for (const source of unfiltered(job, filters))
      options.warn?.(`job ${job.name}: source ${source} is not a folder of files: --exclude/--include do not apply to it`);
  }
  if (options.dryRun) {
    const { planBackup } = await import('./backup-plan.js');
    return { snapshots: [], ...(await planBackup(deployment, selected, filters, options)) };
  }
  const outcome: BackupOutcome = { snapshots: [], failures: [] };
  // Live data a crashed restore left part old, part new must not become the newest snapshot: settled first, or refused.
  const refused = await settleForBackup(deployment, selected, options.warn);
  for (const job of selected) {
    const error = refused.get(job.name);
    if (error) {
      outcome.failures.push({ job: job.name, error });
      sink.failure({ job: job.name, error });
    } else await backupJob(deployment, job, options, sink, outcome);
  }
  return outcome;
}

async function backupJob(deployment: Deployment, job: JobConfig, options: BackupOptions, sink: BackupSink, outcome: BackupOutcome): Promise<void> {
  const notifier = deployment.notifier(job.notify, options.warn);
  const report = (event: NotifyEvent, snapshots: SnapshotSummary[], failures: BackupFailure[]): Promise<void> =>
    notifier.send({
      job: job.name,
      event,
      at: deployment.clock.now().toISOString(),
      snapshots: snapshots.map(({ id, target, bytes, files, storedBytes }) => ({ id, target, bytes, files, storedBytes })),
      failures: failures.map((f) => ({ ...(f.target ? { target: f.target } : {}), code: f.error.code, message: f.error.message })),
    });
  await report('start', [], []);
  const before = { snapshots: outcome.snapshots.length, failures: outcome.failures.length };
  const failed = (failure: BackupFailure): void => {
    outcome.failures.push(failure);
    sink.failure(failure);
  };
  try {
    await lockedRun(deployment, job, options, sink, outcome, failed);
  } catch (err) {
    if (options.signal?.aborted) {
      await report('failure', [], [{ job: job.name, error: asFailsafeError(err) }]);
      throw err;
    }
    failed({ job: job.name, error: asFailsafeError(err) });
  }
  const failures = outcome.failures.slice(before.failures);
  await report(failures.length > 0 ? 'failure' : 'success', outcome.snapshots.slice(before.snapshots), failures);
}

async function lockedRun(
  deployment: Deployment,
  job: JobConfig,
  options: BackupOptions,
  sink: BackupSink,
  outcome: BackupOutcome,
  failed: (failure: BackupFailure) => void,
): Promise<void> {
  const [{ runBackup }, { BackupJournal }, { withHooks }, { checkKeySet }, { SourceFailures }] = await Promise.all([
    import('../../core/backup/run-backup.js'),
    import('../../core/backup/journal.js'),
    import('../../core/backup/hooks.js'),
    import('../../core/backup/key-check.js'),
    import('../../core/backup/source-errors.js'),
  ]);
  const settings = await backupSettings(deployment, job.name);
  const warn = options.warn ?? ((): void => undefined);
  const targets = deployment.targetsOf(job);
  const checkpoints = checkpointStore(deployment, { job: job.name, warn });
  const lockTargets = targets.includes(checkpoints.storage) ? targets : [...targets, checkpoints.storage];
  // onSourceError: continue leaves a failing source out of the snapshot; it is reported as a failure of its own.
  const sourceFailures = new SourceFailures(job.onSourceError);
  const record = (result: BackupJobResult): void => {
    outcome.snapshots.push(...result.snapshots);
    for (const snapshot of result.snapshots) sink.snapshot(snapshot);
    for (const f of result.failedTargets) failed({ job: job.name, ...f });
    for (const f of sourceFailures.failures) failed({ job: job.name, ...f });
  };
  const first = outcome.snapshots.length;
  for (const storage of targets) await warnIfSeenGone(deployment, storage, job.name, warn);
  // Before the lock and the hooks: a key set the targets do not accept writes nothing and stops no service.
  await checkKeySet(targets, job.name, settings.encryption, pickDefined({ signal: options.signal }));
  // Held across the hooks too: a second run must not dump a database while the first one reads it.
  let lock: HeldLock | undefined;
  try {
    lock = await acquireJobLock(lockTargets, job.name, { warn, ...(options.lockWaitMs === undefined ? {} : { waitMs: options.lockWaitMs }) });
    const hookContext = { job: job.name, cwd: deployment.loaded.dir, ...pickDefined({ signal: options.signal, warn: options.warn }) };
    // After `before`: the hook may write what the sources hold (a dump), and the totals walk must count it.
    await withHooks(job.hooks, hookContext, () =>
      withTotals(deployment, job, options, sink.progress, async (progress) => {
        if (deployment.config.repository.format === 2) {
          const { backupDeduplicatedJob } = await import('./dedup-backup.js');
          return record(await backupDeduplicatedJob(deployment, job, options, progress, (sources) => sourceFailures.wrap(sources)));
        }
        const journalSettings = { encryption: settings.encryption, segmentSize: settings.segmentSize, compression: stagesName(settings.stages) };
        const journal = await BackupJournal.open(checkpoints, job.name, targets, journalSettings, warn);
        if (journal.resumed) warn(`resuming the interrupted backup ${journal.id} of ${job.name}: ${journal.known.size} segments already stored`);
        const sources = sourceFailures.wrap(deployment.sources(job, pickDefined({ exclude: options.exclude, include: options.include })));
        record(await runBackup({ name: job.name, sources, targets }, settings, { ...options, onProgress: progress.update, journal }));
        progress.completed();
      }),
    );
    await recordOwnSnapshots(deployment, job.name, outcome.snapshots.slice(first), settings.encryption.signer?.publicKey);
  } finally {
    await lock?.release().catch(() => undefined);
  }
}
