/** The shapes a backup run takes and gives: its settings, options, progress and result (core/backup/run-backup.ts). */
import type { PipelineStages } from '../codec/stages.js';
import type { SourcePlugin } from '../contracts.js';
import type { Encryption } from '../crypto/encryption.js';
import type { FailsafeError } from '../errors.js';
import type { SnapshotBasics } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import type { BackupJournal } from './journal.js';

export interface BackupSettings {
  /** Compression, checksum and cipher implementations, as the composition root chose them for the job. */
  stages: PipelineStages;
  encryption: Encryption;
  segmentSize: number;
  parallelism: number;
}

export interface BackupProgress {
  job: string;
  /** The targets the job's segments go to. */
  targets: string[];
  /** The entry being read, as `<source>/<path>`. */
  file?: string;
  files: number;
  /** Bytes read, counting those of files a files cache showed unchanged (format 2): what is done of `totalBytes`. */
  bytesRead: number;
  storedBytes: number;
  segments: number;
  /** What the run will read, once a walk of the sources beside it (stat only) has counted it; absent until then. */
  totalFiles?: number;
  totalBytes?: number;
}

export interface BackupRunOptions {
  /** Labels recorded in the snapshot's public header and shown by `list` (a safety snapshot is `pre-restore`). */
  tags?: string[];
  signal?: AbortSignal;
  warn?: (message: string) => void;
  onProgress?: (progress: BackupProgress) => void;
  /** Records progress so an interrupted run resumes; without it a failed run removes its segments. */
  journal?: BackupJournal;
}

export interface ResumeCounters {
  /** Segments of the interrupted run reused as stored. */
  reusedSegments: number;
  /** Segments this run stored (again). */
  uploadedSegments: number;
  uploadedBytes: number;
}

export interface SnapshotSummary extends SnapshotBasics {
  warnings?: string[];
  /** Present when the run resumed an interrupted backup. */
  resumed?: ResumeCounters;
}

/** A target that dropped out of a backup the other targets completed. */
export interface TargetFailure {
  target: string;
  error: FailsafeError;
}

export interface BackupJobResult {
  /** One per target that holds the snapshot. */
  snapshots: SnapshotSummary[];
  failedTargets: TargetFailure[];
}

export interface BackupJob {
  name: string;
  sources: SourcePlugin[];
  targets: Storage[];
}
