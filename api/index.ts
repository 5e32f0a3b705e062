/** Failsafe's public API. */
export {
  Failsafe,
  type BackupFailure,
  type BackupOptions,
  type BackupOutcome,
  type BackupPlan,
  type PlannedRead,
  type RecoverableOperation,
  type ConfigObject,
  type FailsafeEvents,
  type FromConfigOptions,
  type OpenOptions,
  type RestoreOptions,
  type SelectOptions,
} from './failsafe.js';
export type { AutoBackupOptions } from '../core/automation/auto-backup.js';
export type * from '../core/contracts.js';
export { FailsafeError, ERROR_CODES, ERROR_ALIASES, ExitCode, isFailsafeError, type ErrorAlias, type ErrorCode } from '../core/errors.js';
export { Registry, defineAdapter, defineSource, type AdapterFactory, type SourceFactory, type PluginFactory } from '../core/sdk/registry.js';
export { builtinRegistry } from './builtins.js';
export { Storage } from '../core/repository/storage.js';
export {
  runBackup,
  type BackupJobResult,
  type BackupProgress,
  type BackupRunOptions,
  type SnapshotSummary,
  type TargetFailure,
} from '../core/backup/run-backup.js';
export { runRestore, type PlannedChanges, type RestorePlugins, type RestoreResult, type RestoredSource } from '../core/restore/run-restore.js';
export { recoverRestores, type RecoveredRestore, type UnsettledRestore } from '../core/restore/swap.js';
export type { DrillJobReport, DrillOptions, DrillReport } from '../core/restore/drill.js';
export { verifySnapshot, type VerifyReport, type VerifyProblem } from '../core/restore/verify.js';
export type { VerifyProgress } from './operations/inspect.js';
export { listSnapshots, openSnapshot, resolveSnapshot, type SnapshotInfo } from '../core/repository/snapshots.js';
export { createSegmentCodec } from '../core/codec/compression.js';
// The composition root: tokens a caller registers through OpenOptions.configure to replace a stage (docs/api.md).
export { TOKENS, type StorageWrapper, type NotifierFactory } from './tokens.js';
export type { Configure } from './container.js';
export type { CompressionStage, ChecksumStage, CipherStage, PipelineStages, StageModule } from '../core/codec/stages.js';
export { createEncryption, type Encryption, type IdentitySource } from '../core/crypto/encryption.js';
export { encodePublicKey, parsePublicKey, readIdentity, writeNewIdentity, type Identity } from '../core/crypto/identity.js';
export { rotateKeys, type RotateReport } from '../core/maintenance/rotate.js';
export type { SnapshotStatsLine, StatsOptions, TargetStats } from './operations/stats.js';
export type { BrowsedEntry, ChangedEntry, FoundEntry, Listing, SnapshotDiff } from './operations/browse.js';
export type { DumpOptions, DumpResult } from './operations/dump.js';
export type { SourceFilters } from './source-filters.js';
export {
  CheckpointStore,
  CHECKPOINT_STATES,
  type Checkpoint,
  type CheckpointInput,
  type CheckpointState,
  type CheckpointStats,
  type CheckpointStoreOptions,
  type ErrorLog,
  type ErrorStats,
  type OperationSummary,
  type RecordedError,
} from '../core/checkpoints/store.js';
export { retry, isRetryable, PERMANENT_CODES, type RetryOptions, type RecordedRetryOptions } from '../core/checkpoints/retry-step.js';
export { runBatch, type BatchOptions, type BatchProgress, type BatchResult } from '../core/checkpoints/runner.js';
export { VERSION } from '../core/version.js';
export { MemoryAdapter } from '../adapters/memory/memory.js';
export { LocalAdapter } from '../adapters/local/local.js';
export { DirectorySource } from '../plugins/directory/directory.js';
export { ConfigFileSource } from '../plugins/config-file/config-file.js';
export { applyRetention, type RetentionPolicy, type RetentionDecision } from '../core/maintenance/retention.js';
export { prune, type PruneReport, type PruneDecision, type PruneOptions, type PruneProgress } from '../core/maintenance/prune.js';
export type { ForgetReport } from '../core/maintenance/forget.js';
export type { ForgetSelection } from './operations/maintenance.js';
export { collectStatus, type StatusReport, type JobStatus, type Health } from '../core/status/status.js';
export { prometheusText } from '../core/status/metrics.js';
// Plugin SDK: the pieces the built-in plugins use, for sources and adapters written elsewhere (docs/plugins.md).
export { z } from 'zod';
export { fromNodeError, isAbortError, asFailsafeError, errnoOf } from '../core/errors.js';
export { writeFileAtomic, writeStreamTo, type AtomicWriteOptions } from '../core/fs/atomic.js';
export { mtimeOf } from '../core/fs/mtime.js';
export { normalizeArchivePath, safeJoin } from '../core/fs/paths.js';
export { restoreFlatFiles } from '../core/sdk/flat-files.js';
export { SqliteSource } from '../plugins/sqlite/sqlite.js';
export { CommandSource } from '../plugins/command/command.js';
export { initDeployment, type InitOptions, type InitResult } from '../core/config/init.js';
export { Scheduler, systemClock, type Clock, type ScheduledTask, type RunState, type SchedulerEvent } from '../core/automation/scheduler.js';
export { FileRunState } from '../core/automation/run-state.js';
export { daemonTasks } from './daemon.js';
export { acquireJobLock, findLocks, removeLocks, type FoundLock, type HeldLock, type LockOptions, type LockRecord } from '../core/repository/locks.js';
