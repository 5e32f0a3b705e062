/**
 * The progress of a backup kept as checkpoints (operation `backup.<job>`), so
 * one killed mid-way resumes: same snapshot id, same data key (its sealed key
 * slots are in the checkpoint, never the key itself), and the segments already
 * stored — each recorded with its SHA-256 and its cipher header — reused when
 * the source still produces the same plaintext (sealed again with that header,
 * it gives the same bytes; core/pipeline/segment-work.ts); a changed source
 * redoes the segments that differ. A segment's record is written before its
 * window permit is released, so after a crash at most the segments in flight
 * are sent again.
 */
import type { CheckpointStore } from '../checkpoints/store.js';
import { newSnapshotCiphers, resumeSnapshotCiphers, type Encryption, type SnapshotCiphers } from '../crypto/encryption.js';
import type { KeySlot } from '../crypto/keys.js';
import { asFailsafeError, FailsafeError } from '../errors.js';
import type { SegmentRecord } from '../format/manifest.js';
import { Repository } from '../repository/repository.js';
import type { Storage } from '../repository/storage.js';
import { MANIFESTS_PREFIX, parseManifestKey } from '../repository/layout.js';
import { readManifestHeader } from '../repository/snapshots.js';

/**
 * [index, storedSize, sha256, plainSize, plainSha256, header]: compact, since the list is rewritten as it grows.
 * plainSha256 is '' from this version on (journals of earlier ones have it and no header).
 */
type CompactSegment = [number, number, string, number, string, string?];

/** A stored segment as the journal knows it: its manifest record and what a resumed run compares it by. */
export type JournaledSegment = SegmentRecord & { header?: string };

function compact(r: JournaledSegment): CompactSegment {
  const row: CompactSegment = [r.index, r.storedSize, r.sha256, r.plainSize, r.plainSha256 ?? ''];
  if (r.header !== undefined) row.push(r.header);
  return row;
}

export interface BackupCheckpointData {
  kind: 'backup';
  job: string;
  snapshotId: string;
  createdAt: string;
  segmentSize: number;
  compression: string;
  cipher: string;
  slots?: KeySlot[];
  segments: CompactSegment[];
  /** Plaintext bytes of the job's last completed snapshot: the estimate behind `progress`. */
  estimate?: number;
}

export interface JournalSettings {
  encryption: Encryption;
  segmentSize: number;
  compression: string;
}

export function backupOperationId(job: string): string {
  return `backup.${job}`;
}

export class BackupJournal {
  readonly id: string;
  readonly createdAt: string;
  readonly ciphers: SnapshotCiphers;
  /** Segments of the interrupted run that may be reused, by index (after `verifyStored`). */
  readonly known: Map<number, JournaledSegment>;
  readonly resumed: boolean;
  readonly #store: CheckpointStore;
  readonly #data: BackupCheckpointData;
  readonly #records = new Map<number, JournaledSegment>();
  readonly #warn: (message: string) => void;
  #writing: Promise<void> | undefined;
  #warned = false;
  #next: Promise<void> | undefined;
  /** Data objects found under the snapshot's prefix, for removing leftovers past the new end. */
  #found = new Set<string>();

  private constructor(
    store: CheckpointStore,
    data: BackupCheckpointData,
    ciphers: SnapshotCiphers,
    known: JournaledSegment[],
    resumed: boolean,
    warn: (m: string) => void,
  ) {
    this.#store = store;
    this.#data = data;
    this.id = data.snapshotId;
    this.createdAt = data.createdAt;
    this.ciphers = ciphers;
    this.known = new Map(known.map((r) => [r.index, r]));
    for (const r of known) this.#records.set(r.index, r);
    this.resumed = resumed;
    this.#warn = warn;
  }

  /** Resumes the job's interrupted backup when its settings still fit, or starts a new one. */
  static async open(
    store: CheckpointStore,
    job: string,
    targets: Storage[],
    settings: JournalSettings,
    warn: (message: string) => void,
  ): Promise<BackupJournal> {
    const latest = await store.latest<BackupCheckpointData>(backupOperationId(job));
    const previous = latest?.data.kind === 'backup' ? latest.data : undefined;
    const estimate = previous?.estimate ?? (targets[0] ? await newestSize(targets[0], job) : undefined);
    // Killed after its manifest landed: that snapshot exists, there is nothing to resume.
    let finished = false;
    for (const target of previous && latest?.state !== 'completed' ? targets : []) {
      if (await new Repository(target).hasSnapshot(job, previous!.snapshotId).catch(() => false)) finished = true;
    }
    if (latest && previous && latest.state !== 'completed' && !finished) {
      const same = previous.segmentSize === settings.segmentSize && previous.compression === settings.compression;
      if (!same) warn(`the interrupted backup ${previous.snapshotId} of ${job} used other segment or compression settings: starting over`);
      else {
        try {
          const ciphers = resumeSnapshotCiphers(settings.encryption, previous.slots);
          const known = previous.segments.map(([index, storedSize, sha256, plainSize, plainSha256, header]) => ({
            index,
            key: Repository.segmentKey(job, previous.snapshotId, index),
            storedSize,
            sha256,
            plainSize,
            ...(plainSha256 ? { plainSha256 } : {}),
            ...(header !== undefined ? { header } : {}),
          }));
          return new BackupJournal(store, { ...previous, segments: [] }, ciphers, known, true, warn);
        } catch (err) {
          if (!(err instanceof FailsafeError && (err.code === 'E_WRONG_KEY' || err.code === 'E_KEY_MISSING'))) throw err;
          warn(`the interrupted backup ${previous.snapshotId} of ${job} cannot be opened with the current keys: starting over`);
        }
      }
    }
    const ciphers = newSnapshotCiphers(settings.encryption);
    const data: BackupCheckpointData = {
      kind: 'backup',
      job,
      snapshotId: Repository.newSnapshotId(),
      createdAt: new Date().toISOString(),
      segmentSize: settings.segmentSize,
      compression: settings.compression,
      cipher: ciphers.segments.name,
      ...(ciphers.sealing.cipher === 'none' ? {} : { slots: ciphers.sealing.slots }),
      segments: [],
      ...(estimate === undefined ? {} : { estimate }),
    };
    const journal = new BackupJournal(store, data, ciphers, [], false, warn);
    // The abandoned run's id, so its objects can be removed once this one is safely recorded.
    const abandoned = latest && previous && latest.state !== 'completed' && !finished ? previous.snapshotId : undefined;
    await journal.#save('running');
    if (abandoned) journal.abandoned = abandoned;
    return journal;
  }

  /** The id of an interrupted run this one replaced (its objects should go). */
  abandoned: string | undefined;

  /**
   * Keeps only the known segments whose object is in every target with its
   * recorded size; a target that cannot be listed allows no reuse at all.
   */
  async verifyStored(targets: Storage[], job: string): Promise<void> {
    if (this.known.size === 0) return;
    const sizes: Map<string, number>[] = [];
    try {
      for (const target of targets) {
        const found = new Map<string, number>();
        for await (const object of new Repository(target).snapshotData(job, this.id)) found.set(object.key, object.size);
        for (const key of found.keys()) this.#found.add(key);
        sizes.push(found);
      }
    } catch (err) {
      this.#warn(`cannot list the interrupted backup's segments (${err instanceof Error ? err.message : String(err)}): sending every segment again`);
      sizes.length = 0;
      for (const record of this.known.values()) this.#records.delete(record.index);
      this.known.clear();
      return;
    }
    for (const record of [...this.known.values()]) {
      if (sizes.every((found) => found.get(record.key) === record.storedSize)) continue;
      this.known.delete(record.index);
      this.#records.delete(record.index);
    }
  }

  /** Records a stored segment; resolves once a checkpoint holding it is durable. */
  record(record: JournaledSegment): Promise<void> {
    this.#records.set(record.index, record);
    return this.#schedule();
  }

  /** Drops a known segment the source no longer produces, durably, before its object is overwritten. */
  forget(index: number): Promise<void> {
    this.known.delete(index);
    this.#records.delete(index);
    return this.#schedule();
  }

  /** Leftover objects of the interrupted run past the snapshot's new end (the source shrank). */
  leftovers(segmentCount: number): string[] {
    return [...this.#found].filter((key) => Number(key.slice(key.lastIndexOf('/') + 1)) >= segmentCount);
  }

  /** The snapshot exists: its checkpoints (and the sealed key slots in them) go, leaving nothing to resume. */
  async completed(): Promise<void> {
    await this.flush();
    await this.#store.discard(backupOperationId(this.#data.job)).catch((err: unknown) => this.#saveFailed(err));
  }

  /** Records the failure for a resume; false when nothing was recorded, so nothing is kept to resume (the caller removes what was stored). */
  async failed(err: unknown): Promise<boolean> {
    await this.flush();
    if (this.#records.size === 0) {
      await this.#store.discard(backupOperationId(this.#data.job)).catch((e: unknown) => this.#saveFailed(e));
      return false;
    }
    await this.#save('failed', { error: err instanceof Error ? err.message : String(err), code: asFailsafeError(err).code });
    return true;
  }

  /** Resolves once every recorded segment is in a durable checkpoint. */
  async flush(): Promise<void> {
    while (this.#writing || this.#next) await (this.#next ?? this.#writing);
  }

  #schedule(): Promise<void> {
    if (!this.#writing) {
      this.#writing = this.#save('running').finally(() => {
        this.#writing = undefined;
      });
      return this.#writing;
    }
    const again = (): Promise<void> => {
      this.#next = undefined;
      return this.#schedule();
    };
    this.#next ??= this.#writing.then(again, again);
    return this.#next;
  }

  async #save(state: 'running' | 'failed', metadata: Record<string, unknown> = {}): Promise<void> {
    const records = [...this.#records.values()].sort((a, b) => a.index - b.index);
    const plain = records.reduce((sum, r) => sum + r.plainSize, 0);
    const estimate = this.#data.estimate;
    try {
      await this.#store.save<BackupCheckpointData>({
        operationId: backupOperationId(this.#data.job),
        operationName: `backup of ${this.#data.job}`,
        state,
        progress: estimate ? Math.min(0.99, plain / estimate) : 0,
        data: { ...this.#data, segments: records.map(compact) },
        metadata: { segments: records.length, plainBytes: plain, ...metadata },
      });
    } catch (err) {
      this.#saveFailed(err);
    }
  }

  /** A lost checkpoint costs only re-sending on resume; the backup itself goes on. Said once per run. */
  #saveFailed(err: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#warn(`could not save the backup's checkpoint: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The size of the job's newest snapshot in `target`, the estimate a run's
 * progress is measured against: one listing and one header read. Without
 * it (a first backup, an unreadable header) progress has no percentage.
 */
async function newestSize(target: Storage, job: string): Promise<number | undefined> {
  try {
    let newest: string | undefined;
    for await (const object of target.list(`${MANIFESTS_PREFIX}${job}/`)) {
      const parsed = parseManifestKey(object.key);
      if (parsed && parsed.job === job && (newest === undefined || parsed.id > newest)) newest = parsed.id;
    }
    return newest === undefined ? undefined : (await readManifestHeader(target, job, newest)).stats.bytes || undefined;
  } catch {
    return undefined;
  }
}
