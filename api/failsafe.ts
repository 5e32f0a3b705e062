/** The programmatic API: one deployment (one YAML file). The CLI is a thin layer over this class, and this class over the operations in api/operations/;
 * the deployment comes from the composition root (api/container.ts). Each operation imports its engine at its first run: a `list` loads no backup pipeline. */
import { EventEmitter } from 'node:events';
import { AutoBackup, type AutoBackupOptions } from '../core/automation/auto-backup.js';
import type { Scheduler, SchedulerEvent } from '../core/automation/scheduler.js';
import type { BackupProgress } from '../core/backup/run-backup.js';
import type { CheckpointStore } from '../core/checkpoints/store.js';
import type { LoadedConfig } from '../core/config/load.js';
import type { IdentitySource } from '../core/crypto/encryption.js';
import { asFailsafeError, FailsafeError } from '../core/errors.js';
import type { PruneReport } from '../core/maintenance/prune.js';
import type { RotateReport } from '../core/maintenance/rotate.js';
import type { FoundLock } from '../core/repository/locks.js';
import { keepHeaders } from '../core/repository/header-cache.js';
import type { SnapshotInfo } from '../core/repository/snapshots.js';
import type { DrillOptions, DrillReport } from '../core/restore/drill.js';
import type { PreviousCopy, RestoreResult } from '../core/restore/run-restore.js';
import type { RecoveredRestore, UnsettledRestore } from '../core/restore/swap.js';
import type { VerifyReport } from '../core/restore/verify.js';
import type { StatusReport } from '../core/status/status.js';
import { latestOf } from '../core/util/events.js';
import type { Deployment } from './container.js';
import { openFile, openObject } from './open.js';
import { backupJobs } from './operations/backup.js';
import { checkpointStore, discard, recoverable, unlock } from './operations/checkpoints.js';
import { list, rotateKeys, verify, type ListOptions, type RotateOptions, type VerifyOptions } from './operations/inspect.js';
import { withIdentity } from './operations/identity.js';
import { forget, prune, status, type ForgetReport, type ForgetSelection, type PruneSelection } from './operations/maintenance.js';
import { restoreSnapshot } from './operations/restore.js';
import { describeRecovery, settleRestores, unsettledRestores } from './operations/settle.js';
import { stats, type StatsOptions, type TargetStats } from './operations/stats.js';
import type { DumpOptions, DumpResult } from './operations/dump.js';
import { diff, find, ls, sources, type FoundEntry, type Listing, type SnapshotDiff, type SourcesListing } from './operations/browse.js';
import type {
  BackupFailure,
  BackupOptions,
  BackupOutcome,
  ConfigObject,
  Counted,
  FailsafeEvents,
  FromConfigOptions,
  OpenOptions,
  RecoverableOperation,
  RestoreOptions,
  SelectOptions,
} from './options.js';

export type * from './options.js';

export class Failsafe extends EventEmitter<FailsafeEvents> {
  readonly #deployment: Deployment;
  readonly #auto = new Map<string, AutoBackup>();

  private constructor(deployment: Deployment) {
    super();
    this.#deployment = deployment;
    deployment.retries.listen((event) => this.emit('retry', event));
  }

  /** Opens a deployment from its YAML file; loads its `plugins` first so their types validate. */
  static async open(file: string, options: OpenOptions = {}): Promise<Failsafe> {
    return new Failsafe(await openFile(file, options));
  }

  /** Opens a deployment from an object of the YAML's shape, validated as the file is (errors name the key path instead of a line). */
  static async fromConfig(config: ConfigObject, options: FromConfigOptions = {}): Promise<Failsafe> {
    return new Failsafe(await openObject(config, options));
  }

  get config(): LoadedConfig {
    return this.#deployment.loaded;
  }

  jobNames(): string[] {
    return this.#deployment.jobNames();
  }

  /** Backs up the given jobs (all by default), one after the other; a failed job does not stop the others. Emits `progress`, `snapshot` and `failure`. */
  backup(jobs: string[] = [], options: BackupOptions = {}): Promise<BackupOutcome & Counted> {
    return this.#counted(() => this.#backup(jobs, options, false));
  }

  /** What `work` resolves with, and the retries counted while it ran. */
  async #counted<T extends object>(work: () => Promise<T>): Promise<T & Counted> {
    const counter = this.#deployment.retries;
    const before = counter.snapshot();
    const result = await work();
    return { ...result, retries: counter.since(before) };
  }

  #backup(jobs: string[], options: BackupOptions, auto: boolean): Promise<BackupOutcome> {
    return backupJobs(this.#deployment, jobs, options, {
      progress: (progress) => {
        options.onProgress?.(progress);
        if (this.listenerCount('progress') > 0) this.emit('progress', { ...progress, targets: [...progress.targets] });
      },
      snapshot: (summary) => this.emit('snapshot', summary),
      failure: (failure) => this.#reportFailure(failure, auto),
    });
  }

  /** Snapshots of every (or one) target, newest first. Needs no key. */
  list(options: ListOptions = {}): Promise<SnapshotInfo[]> {
    return list(this.#deployment, options);
  }

  /** For a long-lived process (the dashboard): each snapshot header `list` and `status` read is kept, read again when its object changes. */
  keepSnapshotHeaders(): void {
    for (const target of Object.keys(this.#deployment.config.targets)) keepHeaders(this.#deployment.storage(target));
  }

  /** True on a host holding only public keys (`encryption: { recipients }`) given no identity: reading a snapshot's content needs one. */
  get needsIdentity(): boolean {
    return this.#deployment.needsIdentity;
  }

  /** This deployment with a private identity (a file, or text held in memory) that must be one of its recipients; close it after use. */
  async withIdentity(identity: IdentitySource): Promise<Failsafe> {
    return new Failsafe(await withIdentity(this.#deployment, identity));
  }

  /** Per target: stored and logical size, their ratio, and what each snapshot added (one snapshot's line with `id`). Needs no key. */
  stats(options: StatsOptions = {}): Promise<TargetStats[]> {
    return stats(this.#deployment, options);
  }

  /** The entries of a snapshot under `path` (`<source>[/<folder>]`), from its manifest or tree; needs the key. */
  ls(ref: string, path?: string, options: SelectOptions = {}): Promise<Listing> {
    return ls(this.#deployment, ref, path, options);
  }

  /** A snapshot's sources (its top level), its manifest authenticated but not decoded past them; undefined when they cannot be read alone. */
  sources(ref: string, options: SelectOptions = {}): Promise<SourcesListing | undefined> {
    return sources(this.#deployment, ref, options);
  }

  /** Entries matching a glob (a bare name matches at any depth) in every snapshot of the selected targets. */
  find(pattern: string, options: SelectOptions = {}): Promise<FoundEntry[]> {
    return find(this.#deployment, pattern, options);
  }

  /** Added, removed and changed entries from snapshot `from` to snapshot `to`. */
  diff(from: string, to: string, options: SelectOptions = {}): Promise<SnapshotDiff> {
    return diff(this.#deployment, from, to, options);
  }

  /** One file's bytes, or a source or folder as tar, to `output` (left open), reading only what holds them; E_NOT_FOUND when nothing is at `path`. */
  dump(ref: string, path: string, output: NodeJS.WritableStream, options: DumpOptions = {}): Promise<DumpResult> {
    return import('./operations/dump.js').then(({ dump }) => dump(this.#deployment, ref, path, output, options));
  }

  /** Restores a snapshot. A restore a crash interrupted is settled first; the live data being replaced is backed up first unless `safetySnapshot: false`. */
  restore(ref: string, options: RestoreOptions = {}): Promise<RestoreResult & Counted> {
    return this.#counted(() => restoreSnapshot(this.#deployment, ref, options));
  }

  /** A restore drill per job (all by default): the latest snapshot restored into a scratch folder with every check, timed, then removed. */
  async drill(jobs: string[] = [], options: DrillOptions = {}): Promise<DrillReport & Counted> {
    const names = jobs.length > 0 ? jobs : this.jobNames();
    for (const name of names) this.#deployment.job(name);
    const { runDrill } = await import('../core/restore/drill.js');
    return this.#counted(() => runDrill(names, (ref, o) => this.restore(ref, o), options));
  }

  /** Settles restores a crash interrupted: one caught swapping is rolled back, one that had committed is finished. Safe any time. */
  recoverRestores(): Promise<RecoveredRestore[]> {
    return settleRestores(this.#deployment);
  }

  /** Restores a crash left unsettled, and those running now, with what settling each does; changes nothing. */
  unsettledRestores(): Promise<UnsettledRestore[]> {
    return unsettledRestores(this.#deployment);
  }

  /** The `.pre-restore-*` copies older than their job's `restore.keepPrevious` (docs/restore.md): the next restore or prune removes them. */
  expiredPreviousCopies(): Promise<PreviousCopy[]> {
    return import('./operations/previous-copies.js').then(({ expiredCopies }) => expiredCopies(this.#deployment));
  }

  /** Verifies one snapshot (`latest` by default) per selected job and target, or all of them with `all`. */
  verify(ref: string | undefined, options: VerifyOptions = {}): Promise<VerifyReport & Counted> {
    return this.#counted(() => verify(this.#deployment, ref, options));
  }

  /** Re-wraps the data keys of every selected snapshot for the configuration's current key set (docs/encryption.md). Data objects are not rewritten. */
  rotateKeys(options: RotateOptions = {}): Promise<RotateReport> {
    return rotateKeys(this.#deployment, options);
  }

  /** The checkpoint store of this deployment: in `checkpoints.target`, or (without that key) in the first target of `job` or of the first job. */
  checkpoints(options: { job?: string; warn?: (message: string) => void } = {}): CheckpointStore {
    return checkpointStore(this.#deployment, options);
  }

  /** Applies each job's retention policy to each of its targets and removes leftovers (docs/retention.md). */
  prune(options: PruneSelection = {}): Promise<PruneReport> {
    return prune(this.#deployment, options);
  }

  /** Removes snapshots by id from the selected targets with prune's guards (docs/retention.md); format 2 packs go with the next prune, or now with `prune`. */
  forget(refs: string[], options: ForgetSelection = {}): Promise<ForgetReport> {
    return forget(this.#deployment, refs, options);
  }

  /** Progress of every backup of this instance as an async iterator, until `signal` aborts or the loop breaks; a slow consumer gets the latest state. */
  progress(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<BackupProgress> {
    return latestOf<BackupProgress>(this, 'progress', options.signal);
  }

  /** Backs up `jobs` every `every` ms in this process until `stop()`; runs never overlap, failures are `failure` events (`auto: true`).
   * E_USAGE when already scheduled or `every` is not a positive number; E_UNKNOWN_JOB for a job the configuration lacks. */
  startAutoBackup(jobs: string | string[] = [], every: number, options: AutoBackupOptions = {}): void {
    const names = typeof jobs === 'string' ? [jobs] : jobs.length > 0 ? jobs : this.jobNames();
    for (const name of names) this.#deployment.job(name);
    if (!Number.isFinite(every) || every <= 0)
      throw new FailsafeError('E_USAGE', `auto backup interval must be a positive number of milliseconds, not ${every}`);
    const key = names.join(',');
    if (this.#auto.has(key)) throw new FailsafeError('E_USAGE', `automatic backups of ${key} are already running; stop() them first`);
    const run = async (signal: AbortSignal): Promise<void> => {
      try {
        await this.#backup(names, { signal }, true);
      } catch (err) {
        if (signal.aborted) return;
        for (const job of names) this.#reportFailure({ job, error: asFailsafeError(err) }, true);
      }
    };
    this.#auto.set(key, new AutoBackup(run, every, options));
  }

  /** Stops automatic backups; resolves when a run in progress has finished (or, with `cancel`, has been cancelled). */
  async stop(options: { cancel?: boolean } = {}): Promise<void> {
    const stopping = [...this.#auto.values()].map((auto) => auto.stop(options));
    this.#auto.clear();
    await Promise.all(stopping);
  }

  /** The deployment's schedules (jobs' `schedule`, prune, drill) on the container's clock, runs in the state file: what `failsafe daemon` runs. Call `start()`. */
  async scheduler(options: { warn?: (message: string) => void; onEvent?: (event: SchedulerEvent) => void } = {}): Promise<Scheduler> {
    const loaded = [import('./daemon.js'), import('../core/automation/scheduler.js'), import('../core/automation/run-state.js')] as const;
    const [{ daemonTasks }, { Scheduler }, { FileRunState }] = await Promise.all(loaded);
    const { stateFile, timeZone } = this.#deployment.config;
    return new Scheduler(daemonTasks(this, options.warn), {
      state: new FileRunState(stateFile),
      clock: this.#deployment.clock,
      ...(timeZone ? { timeZone } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
  }

  /** Per job: newest snapshot, its age, sizes, counts per target, and the health (docs/status.md); `newestOnly`: a first, `partial` answer. */
  status(options: { job?: string; now?: Date; newestOnly?: boolean } = {}): Promise<StatusReport> {
    return status(this.#deployment, options);
  }

  /** Operations that did not complete — interrupted backups and the application's own — with their progress. */
  recoverable(options: { warn?: (message: string) => void } = {}): Promise<RecoverableOperation[]> {
    return recoverable(this.#deployment, options);
  }

  /** The daemon's start: settles restores a crash interrupted, resumes every interrupted backup of its jobs (not the application's own). */
  async recoverAtStart(options: BackupOptions = {}): Promise<{ restores: RecoveredRestore[]; resumed: BackupOutcome }> {
    const restores = await this.recoverRestores();
    for (const r of restores) options.warn?.(describeRecovery(r));
    const operations = await this.recoverable(options.warn ? { warn: options.warn } : {});
    const jobs = [...new Set(operations.flatMap((op) => (op.job === undefined ? [] : [op.job])))];
    const resumed = jobs.length > 0 ? await this.backup(jobs, options) : { snapshots: [], failures: [] };
    return { restores, resumed };
  }

  /** Forgets an unfinished operation. For a backup it also removes the segments its interrupted run stored (holding the job's lock; `onProgress` counts them). */
  discard(operationId: string, options: Parameters<typeof discard>[2] = {}): Promise<void> {
    return discard(this.#deployment, operationId, options);
  }

  /** Removes stale lease locks (or all of them with `all`) of a job or of every job, in the selected targets. */
  unlock(options: SelectOptions & { all?: boolean } = {}): Promise<FoundLock[]> {
    return unlock(this.#deployment, options);
  }

  /** Cancels automatic backups and releases the targets. */
  async close(): Promise<void> {
    await this.stop({ cancel: true });
    await this.#deployment.close();
  }

  /** Rejects with what a run would trip on that opening does not check (api/operations/validate.ts); resolves with the jobs. */
  validate(): Promise<{ file: string; jobs: string[] }> {
    return import('./operations/validate.js').then(({ validateDeployment }) => validateDeployment(this.#deployment));
  }

  /** A failed automatic backup nobody listens for still shows, as a process warning. */
  #reportFailure(failure: BackupFailure, auto: boolean): void {
    if (auto && this.listenerCount('failure') === 0) {
      const where = failure.target ? ` to ${failure.target}` : '';
      process.emitWarning(`automatic backup of job ${failure.job}${where} failed: ${failure.error.message}`, { code: failure.error.code });
    }
    this.emit('failure', { ...failure, auto });
  }
}
