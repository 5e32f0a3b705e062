/** Failsafe's public API. */
export {
  Failsafe,
  type BackupFailure,
  type BackupOptions,
  type BackupOutcome,
  type RecoverableOperation,
  type ConfigObject,
  type FailsafeEvents,
  type FromConfigOptions,
  type OpenOptions,
  type RestoreOptions,
  type SelectOptions,
} from './failsafe.js';
export type { AutoBackupOptions } from './auto-backup.js';
export type * from './contracts.js';
export { FailsafeError, ERROR_CODES, ExitCode, isFailsafeError, type ErrorCode } from './errors.js';
export { Registry, defineAdapter, defineSource, type AdapterFactory, type SourceFactory, type PluginFactory } from './registry.js';
export { builtinRegistry } from './builtins.js';
export { Storage } from './storage.js';
export { runBackup, type BackupJobResult, type BackupProgress, type BackupRunOptions, type SnapshotSummary, type TargetFailure } from './backup.js';
export { runRestore, type PlannedChanges, type RestorePlugins, type RestoreResult, type RestoredSource } from './restore.js';
export { recoverRestores, type RecoveredRestore } from './swap.js';
export type { DrillJobReport, DrillOptions, DrillReport } from './drill.js';
export { verifySnapshot, type VerifyReport, type VerifyProblem } from './verify.js';
export { listSnapshots, openSnapshot, resolveSnapshot, type SnapshotInfo } from './snapshots.js';
export { createCompressor, createSegmentCodec } from './compression.js';
export { createEncryption, type Encryption, type IdentitySource } from './crypto/encryption.js';
export { encodePublicKey, parsePublicKey, readIdentity, writeNewIdentity, type Identity } from './crypto/identity.js';
export { rotateKeys, type RotateReport } from './rotate.js';
export {
  CheckpointStore,
  CHECKPOINT_STATES,
  type Checkpoint,
  type CheckpointInput,
  type CheckpointState,
  type CheckpointStats,
  type CheckpointStoreOptions,
  type OperationSummary,
} from './checkpoints/store.js';
export { runBatch, type BatchOptions, type BatchProgress, type BatchResult } from './checkpoints/runner.js';
export { VERSION } from './version.js';
export { MemoryAdapter } from '../adapters/memory.js';
export { LocalAdapter } from '../adapters/local.js';
export { DirectorySource } from '../plugins/directory.js';
export { ConfigFileSource } from '../plugins/config-file.js';
export { applyRetention, type RetentionPolicy, type RetentionDecision } from './retention.js';
export { prune, type PruneReport, type PruneDecision, type PruneOptions } from './prune.js';
export { collectStatus, type StatusReport, type JobStatus, type Health } from './status.js';
export { prometheusText } from './status-metrics.js';
// Plugin SDK: the pieces the built-in plugins use, for sources and adapters written elsewhere (docs/plugins.md).
export { z } from 'zod';
export { fromNodeError, isAbortError, asFailsafeError } from './errors.js';
export { writeFileAtomic, writeStreamTo, type AtomicWriteOptions } from './fs/atomic.js';
export { mtimeOf } from './fs/mtime.js';
export { normalizeArchivePath, safeJoin } from './paths.js';
export { restoreFlatFiles } from '../plugins/flat-files.js';
export { SqliteSource } from '../plugins/sqlite.js';
export { CommandSource } from '../plugins/command.js';
export { initDeployment, type InitOptions, type InitResult } from './init.js';
export { Scheduler, systemClock, type Clock, type ScheduledTask, type RunState, type SchedulerEvent } from './scheduler.js';
export { FileRunState } from './run-state.js';
export { daemonTasks } from './daemon.js';
export { acquireJobLock, findLocks, removeLocks, type FoundLock, type HeldLock, type LockOptions, type LockRecord } from './locks.js';
