/**
 * The programmatic API: one deployment (one YAML file). The CLI is a thin
 * layer over this class; no behaviour lives only in the CLI.
 *
 * Opening a deployment needs the configuration and the wiring; each
 * operation (backup, restore, verify, prune, …) imports its engine when it
 * first runs, so that a `list` does not load the backup pipeline, nor a
 * backup the restore engine. Only types are imported statically from them.
 */
import { pickDefined } from '../core/util/defined.js';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AutoBackup, type AutoBackupOptions } from '../core/automation/auto-backup.js';
import type { BackupProgress, BackupRunOptions, BackupSettings, SnapshotSummary } from '../core/backup/run-backup.js';
import type { BackupCheckpointData } from '../core/backup/journal.js';
import { acquireJobLock, removeLocks, type FoundLock, type HeldLock } from '../core/repository/locks.js';
import type { OperationSummary } from '../core/checkpoints/store.js';
import { manifestKey, snapshotDataPrefix } from '../core/repository/layout.js';
import { builtinRegistry } from './builtins.js';
import { CheckpointStore } from '../core/checkpoints/store.js';
import { createCompressor } from '../core/codec/compression.js';
import { parseConfigObject, parseConfigText, pluginSpecs, readConfigFile, type LoadedConfig } from '../core/config/load.js';
import { createContainer, Wiring } from './container.js';
import type { SourcePlugin } from '../core/contracts.js';
import type { Encryption, EncryptionSettings, IdentitySource } from '../core/crypto/encryption.js';
import { asFailsafeError, FailsafeError, isFailsafeError } from '../core/errors.js';
import { latestOf } from '../core/util/events.js';
import type { ManifestSource } from '../core/format/manifest.js';
import { createNotifier, type NotifyEvent } from '../core/automation/notify.js';
import { loadPlugin } from '../core/sdk/plugin-loader.js';
import { backupTaskName, FileRunState } from '../core/automation/run-state.js';
import type { StatusReport } from '../core/status/status.js';
import type { PruneOptions, PruneReport, PruneTask } from '../core/maintenance/prune.js';
import type { PluginFactory, Registry } from '../core/sdk/registry.js';
import type { RotateReport } from '../core/maintenance/rotate.js';
import type { RestoreResult, RestoreRunOptions } from '../core/restore/run-restore.js';
import type { DrillOptions, DrillReport } from '../core/restore/drill.js';
import { recoverRestores, type RecoveredRestore } from '../core/restore/swap.js';
import { listSnapshots, openSnapshot, PRE_RESTORE_TAG, resolveSnapshot, type SnapshotInfo } from '../core/repository/snapshots.js';
import type { Storage } from '../core/repository/storage.js';
import type { VerifyReport } from '../core/restore/verify.js';

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** A registry to extend; defaults to the built-in sources and adapters. */
  registry?: Registry;
  /** A private identity that opens snapshots sealed for recipients (restore, verify, keys rotate). */
  identity?: IdentitySource;
  /** Where targets' warnings go (an unchecked host key, say); stderr by default. */
  warn?: (message: string) => void;
}

export interface FromConfigOptions extends OpenOptions {
  /** Where relative paths and `plugins` resolve (default: the current directory). */
  baseDir?: string;
}

/** A configuration object: the YAML's shape, where `plugins` may also hold factories made with defineSource/defineAdapter. */
export type ConfigObject = Record<string, unknown> & { plugins?: (string | PluginFactory)[] };

export interface BackupFailure {
  job: string;
  target?: string;
  error: FailsafeError;
}

/** Events of a Failsafe instance (`failsafe.on('progress', …)`). */
export interface FailsafeEvents {
  /** During a backup: the job's totals so far (a fresh object each time). */
  progress: [BackupProgress];
  /** A snapshot was stored in one target. */
  snapshot: [SnapshotSummary];
  /** A job (or one of its targets) failed; `auto` when the run was an automatic backup. */
  failure: [BackupFailure & { auto: boolean }];
}

export interface BackupOutcome {
  /** One per job and target that holds a new snapshot. */
  snapshots: SnapshotSummary[];
  /** A job that failed as a whole (no `target`), or one target of a job the other targets completed. */
  failures: BackupFailure[];
}

export interface BackupOptions extends Omit<BackupRunOptions, 'journal'> {
  /** How long to keep trying while another backup of the job holds its lock (default about a second). */
  lockWaitMs?: number;
}

function compressionName(compression: { algorithm: string; level: number }): string {
  return `${compression.algorithm}-${compression.level}`;
}

/** An unfinished operation as `failsafe recover` lists it; `job` and `snapshotId` for interrupted backups. */
export interface RecoverableOperation extends OperationSummary {
  /** The target holding its checkpoints. */
  target: string;
  job?: string;
  snapshotId?: string;
  /** Segments already stored and recorded. */
  segments?: number;
  /** Plaintext bytes those segments hold. */
  plainBytes?: number;
}

export interface SelectOptions {
  job?: string;
  target?: string;
}

export type RestoreOptions = SelectOptions &
  Omit<RestoreRunOptions, 'parallelism' | 'safetySnapshot' | 'journalDir'> & {
    /** Back up the live data being replaced to the job's first target, tagged `pre-restore` (default true). */
    safetySnapshot?: boolean;
  };

export class Failsafe extends EventEmitter<FailsafeEvents> {
  readonly #wiring: Wiring;
  readonly #identity: IdentitySource | undefined;
  readonly #auto = new Map<string, AutoBackup>();
  readonly #encryption = new Map<'seal' | 'open', Promise<Encryption>>();

  private constructor(wiring: Wiring, identity?: IdentitySource) {
    super();
    this.#wiring = wiring;
    this.#identity = identity;
  }

  /** Opens a deployment from its YAML file; loads its `plugins` first so their types validate. */
  static async open(file: string, options: OpenOptions = {}): Promise<Failsafe> {
    const registry = options.registry ?? builtinRegistry();
    const path = resolve(file);
    const text = await readConfigFile(path);
    for (const spec of pluginSpecs(text, path)) await loadPlugin(spec, dirname(path), registry);
    const loaded = parseConfigText(text, path, { registry, ...(options.env ? { env: options.env } : {}) });
    return new Failsafe(createContainer(loaded, registry, options.warn).resolve(Wiring), options.identity);
  }

  /**
   * Opens a deployment from an object of the YAML's shape, validated as the
   * file is (errors name the key path instead of a line).
   */
  static async fromConfig(config: ConfigObject, options: FromConfigOptions = {}): Promise<Failsafe> {
    const registry = options.registry ?? builtinRegistry();
    const baseDir = resolve(options.baseDir ?? '.');
    const plugins = Array.isArray(config?.plugins) ? config.plugins : [];
    for (const plugin of plugins) if (typeof plugin === 'object' && plugin !== null) registry.register(plugin, `${plugin.kind} "${plugin.type}"`);
    const specs = plugins.filter((p): p is string => typeof p === 'string');
    const plain = Array.isArray(config?.plugins) ? { ...config, plugins: specs } : config;
    for (const spec of pluginSpecs(JSON.stringify(plain), resolve(baseDir, 'failsafe.yaml'))) await loadPlugin(spec, baseDir, registry);
    const loaded = parseConfigObject(plain, baseDir, { registry, ...(options.env ? { env: options.env } : {}) });
    return new Failsafe(createContainer(loaded, registry).resolve(Wiring), options.identity);
  }

  get config(): LoadedConfig {
    return this.#wiring.loaded;
  }

  jobNames(): string[] {
    return this.#wiring.jobNames();
  }

  /**
   * Backs up the given jobs (all by default), one after the other; a failed
   * job does not stop the others. Emits `progress`, `snapshot` and `failure`.
   */
  async backup(jobs: string[] = [], options: BackupOptions = {}): Promise<BackupOutcome> {
    return this.#backup(jobs, options, false);
  }

  async #backup(jobs: string[], options: BackupOptions, auto: boolean): Promise<BackupOutcome> {
    const names = jobs.length > 0 ? jobs : this.jobNames();
    const selected = names.map((name) => this.#wiring.job(name));
    const settings = await this.#backupSettings();
    const [{ runBackup }, { BackupJournal }, { withHooks }] = await Promise.all([
      import('../core/backup/run-backup.js'),
      import('../core/backup/journal.js'),
      import('../core/backup/hooks.js'),
    ]);
    const outcome: BackupOutcome = { snapshots: [], failures: [] };
    const run: BackupRunOptions = {
      ...options,
      onProgress: (progress) => {
        options.onProgress?.(progress);
        if (this.listenerCount('progress') > 0) this.emit('progress', { ...progress, targets: [...progress.targets] });
      },
    };
    const failed = (failure: BackupFailure): void => {
      outcome.failures.push(failure);
      this.#reportFailure(failure, auto);
    };
    const warn = options.warn ?? ((): void => undefined);
    for (const job of selected) {
      const hookContext = { job: job.name, cwd: this.#wiring.loaded.dir, ...pickDefined({ signal: options.signal, warn: options.warn }) };
      const notifier = createNotifier(job.notify, options.warn);
      const report = (event: NotifyEvent, snapshots: SnapshotSummary[], failures: BackupFailure[]): Promise<void> =>
        notifier.send({
          job: job.name,
          event,
          at: new Date().toISOString(),
          snapshots: snapshots.map(({ id, target, bytes, files, storedBytes }) => ({ id, target, bytes, files, storedBytes })),
          failures: failures.map((f) => ({ ...(f.target ? { target: f.target } : {}), code: f.error.code, message: f.error.message })),
        });
      await report('start', [], []);
      const snapshotsBefore = outcome.snapshots.length;
      const failuresBefore = outcome.failures.length;
      let lock: HeldLock | undefined;
      try {
        const targets = this.#wiring.targetsOf(job);
        const checkpoints = this.checkpoints({ job: job.name, warn });
        const lockTargets = targets.includes(checkpoints.storage) ? targets : [...targets, checkpoints.storage];
        // Held across the hooks too: a second run must not dump a database while the first one reads it.
        lock = await acquireJobLock(lockTargets, job.name, { warn, ...(options.lockWaitMs === undefined ? {} : { waitMs: options.lockWaitMs }) });
        await withHooks(job.hooks, hookContext, async () => {
          const sources = this.#wiring.sources(job);
          const journal = await BackupJournal.open(
            checkpoints,
            job.name,
            targets,
            { encryption: settings.encryption, segmentSize: settings.segmentSize, compression: compressionName(this.#wiring.loaded.config.compression) },
            warn,
          );
          if (journal.resumed) warn(`resuming the interrupted backup ${journal.id} of ${job.name}: ${journal.known.size} segments already stored`);
          const result = await runBackup({ name: job.name, sources, targets }, settings, { ...run, journal });
          outcome.snapshots.push(...result.snapshots);
          for (const snapshot of result.snapshots) this.emit('snapshot', snapshot);
          for (const f of result.failedTargets) failed({ job: job.name, ...f });
        });
      } catch (err) {
        if (options.signal?.aborted) {
          await report('failure', [], [{ job: job.name, error: asFailsafeError(err) }]);
          throw err;
        }
        failed({ job: job.name, error: asFailsafeError(err) });
      } finally {
        await lock?.release().catch(() => undefined);
      }
      const jobFailures = outcome.failures.slice(failuresBefore);
      await report(jobFailures.length > 0 ? 'failure' : 'success', outcome.snapshots.slice(snapshotsBefore), jobFailures);
    }
    return outcome;
  }

  /** Snapshots of every (or one) target, newest first. Needs no key. */
  async list(options: SelectOptions & { warn?: (message: string) => void; signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
    const all: SnapshotInfo[] = [];
    for (const storage of this.#targets(options)) {
      options.signal?.throwIfAborted();
      all.push(...(await listSnapshots(storage, { ...(options.job ? { job: options.job } : {}), ...(options.warn ? { warn: options.warn } : {}) })));
    }
    return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /**
   * Restores a snapshot. A restore a crash interrupted is settled first (see
   * `recoverRestores`); the live data being replaced is backed up first unless
   * `safetySnapshot: false`.
   */
  async restore(ref: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    const engine = await import('../core/restore/run-restore.js');
    try {
      return await this.#restore(engine, ref, options);
    } finally {
      await engine.dropSpares();
    }
  }

  async #restore(engine: typeof import('../core/restore/run-restore.js'), ref: string, options: RestoreOptions): Promise<RestoreResult> {
    const { safetySnapshot = true, ...rest } = options;
    const parallelism = this.#wiring.loaded.config.parallelism ?? 2;
    if (!options.dryRun) {
      for (const r of await this.recoverRestores()) options.warn?.(describeRecovery(r));
    }
    const { storage, info } = await this.#resolve(ref, options);
    const snapshot = await openSnapshot(storage, info.job, info.id, await this.#getEncryption('open'));
    // The threads boot while the restore is planned. Not before the key is open: a passphrase's Argon2id thread
    // takes 70 MB while it runs, and is gone by now.
    if (!options.dryRun) engine.startRestoreThreads(parallelism);
    const job = this.#wiring.loaded.config.jobs[info.job];
    const byName = new Map<string, SourcePlugin>((job ? this.#wiring.sources(job) : []).map((p) => [p.name, p]));
    const fallback = (source: ManifestSource): SourcePlugin => this.#fallbackSource(source);
    const takeSafety = async (sources: SourcePlugin[]): Promise<string> => {
      const target = this.#wiring.targetsOf(this.#wiring.job(info.job))[0]!;
      const { runBackup } = await import('../core/backup/run-backup.js');
      const {
        snapshots: [summary],
      } = await runBackup({ name: info.job, sources, targets: [target] }, await this.#backupSettings(), {
        tags: [PRE_RESTORE_TAG],
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.warn ? { warn: options.warn } : {}),
      });
      return summary!.id;
    };
    return engine.runRestore(
      snapshot,
      { byName, fallback },
      {
        ...rest,
        ...(safetySnapshot && job ? { safetySnapshot: takeSafety } : {}),
        journalDir: this.#journalDir(),
        parallelism,
      },
    );
  }

  /**
   * A restore drill per job (all by default): the latest snapshot restored
   * into a scratch folder with every check, timed, then removed.
   */
  async drill(jobs: string[] = [], options: DrillOptions = {}): Promise<DrillReport> {
    const names = jobs.length > 0 ? jobs : this.jobNames();
    for (const name of names) this.#wiring.job(name);
    const { runDrill } = await import('../core/restore/drill.js');
    return runDrill(names, (ref, o) => this.restore(ref, o), options);
  }

  /**
   * Settles restores a crash (kill -9, power loss) interrupted: one caught
   * swapping is rolled back, so the live data is the old data again; one that
   * had committed is finished. `restore` does this first; it is safe any time.
   */
  async recoverRestores(): Promise<RecoveredRestore[]> {
    return recoverRestores(this.#journalDir());
  }

  /** Verifies one snapshot (`latest` by default) per selected job and target, or all of them with `all`. */
  async verify(ref: string | undefined, options: SelectOptions & { all?: boolean; readData?: boolean; signal?: AbortSignal } = {}): Promise<VerifyReport> {
    const report: VerifyReport = { ok: true, checked: 0, errors: [] };
    const encryption = await this.#getEncryption('open');
    const { verifySnapshot } = await import('../core/restore/verify.js');
    const jobs = options.job ? [options.job] : this.jobNames();
    for (const storage of this.#targets(options)) {
      let chosen: SnapshotInfo[];
      if (options.all) chosen = await listSnapshots(storage, options.job ? { job: options.job } : {});
      else if (ref !== undefined && ref !== 'latest') chosen = [await resolveSnapshot(storage, ref, options.job)];
      else {
        chosen = [];
        for (const job of jobs) {
          if (!this.#jobTargets(job).includes(storage.targetName)) continue;
          chosen.push(await resolveSnapshot(storage, 'latest', job));
        }
      }
      for (const info of chosen) {
        try {
          const snapshot = await openSnapshot(storage, info.job, info.id, encryption);
          const one = await verifySnapshot(snapshot, { ...options, parallelism: this.#wiring.loaded.config.parallelism ?? 2 });
          report.checked += one.checked;
          report.errors.push(...one.errors);
        } catch (err) {
          const e = asFailsafeError(err);
          report.errors.push({ id: info.id, job: info.job, target: storage.targetName, code: e.code, message: e.message });
        }
      }
    }
    report.ok = report.errors.length === 0;
    return report;
  }

  /**
   * Re-wraps the data keys of every selected snapshot for the configuration's
   * current key set, opening each with the current secrets, the identity, or
   * `previous` secrets (docs/encryption.md). Data objects are not rewritten.
   */
  async rotateKeys(
    options: SelectOptions & { previous?: Omit<EncryptionSettings, 'mode' | 'recipients'>; dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<RotateReport> {
    const current = await this.#getEncryption('seal');
    const openWith = [await this.#getEncryption('open')];
    const { previous } = options;
    if (previous && (previous.passphrase !== undefined || previous.keyFile !== undefined)) {
      const { createEncryption } = await import('../core/crypto/encryption.js');
      openWith.push(await createEncryption({ mode: 'keys', ...previous }, this.#identity));
    }
    const snapshots = [];
    for (const storage of this.#targets(options)) {
      for (const info of await listSnapshots(storage, options.job ? { job: options.job } : {})) snapshots.push({ storage, info });
    }
    const { rotateKeys } = await import('../core/maintenance/rotate.js');
    return rotateKeys(snapshots, openWith, current, { ...(options.dryRun ? { dryRun: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  }

  /**
   * The checkpoint store of this deployment: in `checkpoints.target`, or
   * (without that key) in the first target of `job` or of the first job.
   */
  checkpoints(options: { job?: string; warn?: (message: string) => void } = {}): CheckpointStore {
    const configured = this.#wiring.loaded.config.checkpoints;
    const target = configured?.target ?? this.#jobTargets(options.job ?? this.jobNames()[0]!)[0]!;
    return new CheckpointStore(this.#wiring.storage(target), { keep: configured?.keep ?? 10, ...(options.warn ? { warn: options.warn } : {}) });
  }

  /** Applies each job's retention policy to each of its targets and removes leftovers (docs/retention.md). */
  async prune(options: SelectOptions & Omit<PruneOptions, 'timeZone'> = {}): Promise<PruneReport> {
    if (options.target) this.#wiring.storage(options.target);
    const tasks: PruneTask[] = [];
    for (const name of options.job ? [options.job] : this.jobNames()) {
      const job = this.#wiring.job(name);
      for (const target of job.targets) {
        if (options.target && options.target !== target) continue;
        tasks.push({ job: name, storage: this.#wiring.storage(target), policy: job.retentionPerTarget[target] ?? job.retention });
      }
    }
    const { timeZone } = this.#wiring.loaded.config;
    const { prune } = await import('../core/maintenance/prune.js');
    return prune(tasks, { ...options, ...(timeZone ? { timeZone } : {}) });
  }

  /**
   * Progress of every backup of this instance as an async iterator, until
   * `signal` aborts or the loop breaks. A slow consumer gets the latest state,
   * not a backlog.
   */
  progress(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<BackupProgress> {
    return latestOf<BackupProgress>(this, 'progress', options.signal);
  }

  /**
   * Backs up `jobs` every `every` milliseconds inside this process until
   * `stop()`. Runs never overlap; failures are emitted as `failure` events
   * (with `auto: true`) and never reject. E_USAGE when the jobs are already
   * scheduled or `every` is not a positive number; E_UNKNOWN_JOB for a job
   * the configuration lacks.
   */
  startAutoBackup(jobs: string | string[] = [], every: number, options: AutoBackupOptions = {}): void {
    const names = typeof jobs === 'string' ? [jobs] : jobs.length > 0 ? jobs : this.jobNames();
    for (const name of names) this.#wiring.job(name);
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

  /** Per job: newest snapshot, its age, sizes, counts per target, and the health (docs/status.md). */
  async status(options: { job?: string; now?: Date } = {}): Promise<StatusReport> {
    const runs = await new FileRunState(this.#wiring.loaded.config.stateFile).records();
    const jobs = (options.job ? [options.job] : this.jobNames()).map((name) => {
      const job = this.#wiring.job(name);
      const run = runs.get(backupTaskName(name));
      const lastRun = run && { at: run.lastRun, ok: run.ok, ...pickDefined({ error: run.error }) };
      return { name, targets: this.#wiring.targetsOf(job), ...pickDefined({ alertAfterMs: job.alertAfterMs, lastRun }) };
    });
    let unfinished: StatusReport['unfinishedOperations'] = [];
    try {
      unfinished = (await this.checkpoints(options.job ? { job: options.job } : {}).recoverable()).map(({ operationId, operationName, state, progress }) => ({
        operationId,
        name: operationName,
        state,
        progress,
      }));
    } catch {
      // an unreachable checkpoint target is already reported as its job's target problem
    }
    const { collectStatus } = await import('../core/status/status.js');
    return collectStatus(jobs, { ...(options.now ? { now: options.now } : {}), unfinished });
  }

  /** Cancels automatic backups and releases the targets. */

  /** Every checkpoint store the deployment uses: `checkpoints.target`, or each job's first target. */
  #checkpointStores(warn?: (message: string) => void): CheckpointStore[] {
    const stores = new Map<string, CheckpointStore>();
    for (const job of this.jobNames()) {
      const store = this.checkpoints({ job, ...(warn ? { warn } : {}) });
      stores.set(store.storage.targetName, store);
    }
    return [...stores.values()];
  }

  /** Operations that did not complete — interrupted backups and the application's own — with their progress. */
  async recoverable(options: { warn?: (message: string) => void } = {}): Promise<RecoverableOperation[]> {
    const out: RecoverableOperation[] = [];
    for (const store of this.#checkpointStores(options.warn)) {
      for (const op of await store.recoverable()) {
        const latest = await store.latest<Partial<BackupCheckpointData>>(op.operationId);
        const backup = latest?.data.kind === 'backup' && latest.data.job !== undefined && this.jobNames().includes(latest.data.job) ? latest.data : undefined;
        out.push({
          ...op,
          target: store.storage.targetName,
          ...(backup
            ? { job: backup.job!, snapshotId: backup.snapshotId!, segments: backup.segments?.length ?? 0, plainBytes: Number(latest!.metadata.plainBytes ?? 0) }
            : {}),
        });
      }
    }
    return out;
  }

  /**
   * What a long-running process does when it starts (the daemon does): settle
   * restores a crash interrupted, then resume every interrupted backup of this
   * deployment's jobs. Operations of the application's own are left to it.
   */
  async recoverAtStart(options: BackupOptions = {}): Promise<{ restores: RecoveredRestore[]; resumed: BackupOutcome }> {
    const restores = await this.recoverRestores();
    for (const r of restores) options.warn?.(describeRecovery(r));
    const jobs = [...new Set((await this.recoverable(options.warn ? { warn: options.warn } : {})).flatMap((op) => (op.job === undefined ? [] : [op.job])))];
    const resumed = jobs.length > 0 ? await this.backup(jobs, options) : { snapshots: [], failures: [] };
    return { restores, resumed };
  }

  /**
   * Forgets an unfinished operation. For a backup it also removes the
   * segments its interrupted run stored (holding the job's lock meanwhile).
   */
  async discard(operationId: string, options: { warn?: (message: string) => void } = {}): Promise<void> {
    const op = (await this.recoverable(options)).find((o) => o.operationId === operationId);
    if (!op) throw new FailsafeError('E_NOT_FOUND', `no unfinished operation "${operationId}"`);
    const store = this.#checkpointStores(options.warn).find((s) => s.storage.targetName === op.target)!;
    if (op.job === undefined || op.snapshotId === undefined) return store.discard(operationId);
    const targets = this.#wiring.targetsOf(this.#wiring.job(op.job));
    const lock = await acquireJobLock(targets, op.job, options.warn ? { warn: options.warn } : {});
    try {
      for (const target of targets) {
        if (await target.exists(manifestKey(op.job, op.snapshotId))) continue; // it completed after all: a snapshot, not leftovers
        for await (const object of target.list(snapshotDataPrefix(op.job, op.snapshotId))) await target.delete(object.key);
      }
      await store.discard(operationId);
    } finally {
      await lock.release();
    }
  }

  /** Removes stale lease locks (or all of them with `all`) of a job or of every job, in the selected targets. */
  async unlock(options: SelectOptions & { all?: boolean } = {}): Promise<FoundLock[]> {
    const removed: FoundLock[] = [];
    for (const storage of this.#targets(options))
      removed.push(...(await removeLocks(storage, { ...(options.job ? { job: options.job } : {}), all: options.all === true })));
    return removed;
  }

  async close(): Promise<void> {
    await this.stop({ cancel: true });
    await this.#wiring.close();
  }

  /** Throws problems that opening defers until they matter (a missing passphrase variable); returns the jobs. */
  validate(): { file: string; jobs: string[] } {
    const encryption = this.#wiring.loaded.config.encryption;
    if (encryption.mode === 'keys' && encryption.passphraseError) throw encryption.passphraseError;
    return { file: this.#wiring.loaded.file, jobs: this.jobNames() };
  }

  /** Restore journals live beside the configuration file, which every later run of this deployment reads. */
  #journalDir(): string {
    return join(this.#wiring.loaded.dir, '.failsafe', 'restore-journal');
  }

  async #backupSettings(): Promise<BackupSettings> {
    const { config } = this.#wiring.loaded;
    return {
      compressor: createCompressor(config.compression.algorithm, config.compression.level),
      compressionLevel: config.compression.level,
      encryption: await this.#getEncryption(),
      segmentSize: config.segmentSize,
      parallelism: config.parallelism ?? availableParallelism(),
    };
  }

  /** A failed automatic backup nobody listens for still shows, as a process warning. */
  #reportFailure(failure: BackupFailure, auto: boolean): void {
    if (auto && this.listenerCount('failure') === 0) {
      process.emitWarning(`automatic backup of job ${failure.job}${failure.target ? ` to ${failure.target}` : ''} failed: ${failure.error.message}`, {
        code: failure.error.code,
      });
    }
    this.emit('failure', { ...failure, auto });
  }

  /**
   * The deployment's keys. A missing passphrase variable stops sealing (the
   * snapshot would lack its passphrase slot) but not opening with an identity.
   * The identity is read only to open: a backup never needs the private key.
   */
  #getEncryption(purpose: 'seal' | 'open' = 'seal'): Promise<Encryption> {
    const config = this.#wiring.loaded.config.encryption;
    const identity = purpose === 'open' ? this.#identity : undefined;
    if (config.mode === 'keys' && config.passphraseError && identity === undefined) return Promise.reject(config.passphraseError);
    let encryption = this.#encryption.get(purpose);
    if (encryption === undefined) {
      encryption = import('../core/crypto/encryption.js').then(({ createEncryption }) => createEncryption(config, identity));
      this.#encryption.set(purpose, encryption);
    }
    return encryption;
  }

  #jobTargets(job: string): string[] {
    return this.#wiring.job(job).targets;
  }

  #targets(options: SelectOptions): Storage[] {
    if (options.target) return [this.#wiring.storage(options.target)];
    const names = options.job ? this.#jobTargets(options.job) : Object.keys(this.#wiring.loaded.config.targets);
    return names.map((name) => this.#wiring.storage(name));
  }

  /** Finds a snapshot: in `--target` or the job's targets in order; `latest` needs a job when there are several. */
  async #resolve(ref: string, options: SelectOptions): Promise<{ storage: Storage; info: SnapshotInfo }> {
    let job = options.job;
    if (job === undefined && ref === 'latest') {
      const names = this.jobNames();
      if (names.length !== 1) throw new FailsafeError('E_USAGE', `several jobs (${names.join(', ')}): choose one with --job`);
      job = names[0];
    }
    const storages = this.#targets({ ...options, ...(job ? { job } : {}) });
    let lastError: unknown;
    for (const storage of storages) {
      try {
        return { storage, info: await resolveSnapshot(storage, ref, job) };
      } catch (err) {
        if (!isFailsafeError(err, 'E_SNAPSHOT_NOT_FOUND')) throw err;
        lastError = err;
      }
    }
    throw lastError ?? new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${ref}" not found`);
  }

  /** A source the configuration no longer has (with --to only): restored by its own type if known, else as a plain tree. */
  #fallbackSource(source: ManifestSource): SourcePlugin {
    const path = resolve('/', source.name);
    const own = this.#wiring.registry.sources.get(source.type);
    const options = own?.optionsSchema.safeParse({ path });
    if (own && options?.success) return own.create(options.data, source.name);
    return this.#wiring.registry.source('directory').create({ path }, source.name);
  }
}

function describeRecovery(r: RecoveredRestore): string {
  const what = r.outcome === 'rolled-back' ? 'was rolled back: the previous data is back in place at' : 'had completed; finished it for';
  return `an interrupted restore of ${r.snapshot} (started ${r.startedAt}) ${what} ${r.paths.join(', ')}`;
}
