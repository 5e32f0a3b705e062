/**
 * What one backup run knows while it runs: its snapshot id and keys (the
 * interrupted run's, when it resumes), the records of the segments stored so
 * far, its progress and counters, its warnings, and the targets that dropped
 * out. The stages of core/backup/run-backup.ts share it.
 */
import { newSnapshotCiphers, type SnapshotCiphers } from '../crypto/encryption.js';
import type { SegmentRecord } from '../format/manifest.js';
import { newSnapshotId } from '../repository/layout.js';
import type { Storage } from '../repository/storage.js';
import type { BackupJob, BackupProgress, BackupRunOptions, BackupSettings, ResumeCounters } from './types.js';

export class BackupState {
  readonly id: string;
  readonly createdAt: string;
  /** When this run started (a resumed run: when it resumed), for the duration its header records. */
  readonly startedMs = Date.now();
  readonly ciphers: SnapshotCiphers;
  readonly warnings: string[] = [];
  readonly records: SegmentRecord[] = [];
  readonly counters: ResumeCounters = { reusedSegments: 0, uploadedSegments: 0, uploadedBytes: 0 };
  readonly progress: BackupProgress;
  /** Targets that dropped out, with why. */
  readonly failed = new Map<Storage, Error>();

  constructor(
    readonly job: BackupJob,
    readonly settings: BackupSettings,
    readonly options: BackupRunOptions,
  ) {
    const { journal } = options;
    this.id = journal?.id ?? newSnapshotId();
    this.createdAt = journal?.createdAt ?? new Date().toISOString();
    this.ciphers = journal?.ciphers ?? newSnapshotCiphers(settings.encryption);
    this.progress = { job: job.name, targets: job.targets.map((t) => t.targetName), files: 0, bytesRead: 0, storedBytes: 0, segments: 0 };
  }

  /** A warning the snapshot's summary carries, and the caller hears at once. */
  readonly warn = (message: string): void => {
    this.warnings.push(message);
    this.options.warn?.(message);
  };

  /** A segment is stored (or reused from the interrupted run): it counts in the manifest and the progress. */
  recordStored(record: SegmentRecord): void {
    this.records.push(record);
    this.progress.storedBytes += record.storedSize;
    this.progress.segments++;
    this.options.onProgress?.(this.progress);
  }
}
