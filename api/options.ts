/** The option and result types of the Failsafe facade (api/failsafe.ts). */
import type { BackupProgress, BackupRunOptions, SnapshotSummary } from '../core/backup/run-backup.js';
import type { OperationSummary, RecordedError } from '../core/checkpoints/store.js';
import type { IdentitySource } from '../core/crypto/encryption.js';
import type { FailsafeError } from '../core/errors.js';
import type { RestoreRunOptions } from '../core/restore/run-restore.js';
import type { RetryCounts, RetryEvent } from '../core/repository/retry-counts.js';
import type { Timeouts } from '../core/repository/timeouts.js';
import type { PluginFactory, Registry } from '../core/sdk/registry.js';
import type { Configure, ReadingTrust } from './container.js';

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** A registry to extend; defaults to the built-in sources and adapters. */
  registry?: Registry;
  /** A private identity that opens snapshots sealed for recipients (restore, verify, keys rotate). */
  identity?: IdentitySource;
  /** Signing keys a reader trusts on top of the YAML's `signing.trust` (`--trust`), and `--allow-unsigned`. */
  trust?: ReadingTrust;
  /** Where targets' warnings go (an unchecked host key, say); stderr by default. */
  warn?: (message: string) => void;
  /** Time-outs for every remote target over those of the YAML (`--timeout`; docs/reliability.md, Time-outs). */
  timeouts?: Timeouts;
  /**
   * Replaces stages and collaborators by registering tokens (api/tokens.ts):
   * called on the deployment's container, then on each job's child container
   * with `scope.job` set (docs/api.md, "Replacing a stage").
   */
  configure?: Configure;
}

export interface FromConfigOptions extends OpenOptions {
  /** Where relative paths and `plugins` resolve (default: the current directory). */
  baseDir?: string;
}

/** A configuration object: the YAML's shape, where `plugins` may also hold factories made with defineSource/defineAdapter. */
export type ConfigObject = Record<string, unknown> & { plugins?: (string | PluginFactory)[] };

/**
 * Added to what backup, restore, verify and drill resolve with: the transfers tried again while the operation ran
 * (core/repository/retry-counts.ts), all zero on a sound link. Counted per deployment: operations of one instance
 * that run at once share their counts.
 */
export interface Counted {
  retries: RetryCounts;
}

export type { RetryCounts, RetryEvent, Timeouts };

export interface BackupFailure {
  job: string;
  target?: string;
  /** A source left out of the job's snapshot (`onSourceError: continue`); the other sources are in it. */
  source?: string;
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
  /** A transfer is tried again (a stall, a dropped connection, a damaged byte): for a "waiting for the target" line. */
  retry: [RetryEvent];
}

/** `backup --dry-run`: what a source would give. */
export interface PlannedRead {
  name: string;
  type: string;
  /** Entries of every kind (files, folders, links). */
  entries: number;
  files: number;
  bytes: number;
}

export interface BackupPlan {
  job: string;
  targets: string[];
  sources: PlannedRead[];
  files: number;
  bytes: number;
}

export interface BackupOutcome {
  /** One per job and target that holds a new snapshot. */
  snapshots: SnapshotSummary[];
  /** A job that failed as a whole (no `target`), or one target of a job the other targets completed. */
  failures: BackupFailure[];
  /** With `dryRun`: what each job would read. */
  plan?: BackupPlan[];
}

export interface BackupOptions extends Omit<BackupRunOptions, 'journal'> {
  /** How long to keep trying while another backup of the job holds its lock (default about a second). */
  lockWaitMs?: number;
  /** Read every file, trusting no files cache (deduplicating repositories; format 1 always reads everything). */
  forceReread?: boolean;
  /** Globs added to every directory source's `exclude` for this run (recorded in the snapshot). */
  exclude?: string[];
  /** Globs that replace `include` of directory sources that have none in the YAML, for this run. */
  include?: string[];
  /** Only walk the sources and report what would be read (`plan`); nothing is written, no lock or hook. */
  dryRun?: boolean;
  /**
   * With `onProgress`: walk the sources beside the backup (stat only) so its events carry `totalFiles` and `totalBytes`
   * (default true); `false` spares that walk.
   */
  totals?: boolean;
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
  /** The newest failures of its error history, oldest first (its counts are in `errors`). */
  recentErrors?: RecordedError[];
}

/** A discarded backup's leftovers removed, in every target of its job: objects of `total`, and their bytes. */
export interface DiscardProgress {
  operationId: string;
  done: number;
  total: number;
  bytes: number;
  totalBytes: number;
}

export interface DiscardOptions {
  warn?: (message: string) => void;
  onProgress?: (progress: DiscardProgress) => void;
}

export interface SelectOptions {
  job?: string;
  target?: string;
}

export type RestoreOptions = SelectOptions &
  Omit<RestoreRunOptions, 'parallelism' | 'safetySnapshot' | 'journalDir'> & {
    /** Back up the live data being replaced to the job's first target, tagged `pre-restore` (default true). */
    safetySnapshot?: boolean;
    /** Restore `latest` even when it went backwards against what this host saw in the target (E_ROLLBACK otherwise). */
    allowRollback?: boolean;
  };
