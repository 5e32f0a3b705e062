/**
 * One target seen as a Failsafe repository (restic's internal/repository over
 * its backends): the only module that knows where a snapshot's objects live,
 * what makes a snapshot exist, and how one is removed. Everything below it is
 * the `Storage` facade over a plain adapter, which knows keys and bytes but
 * nothing of snapshots.
 *
 *   manifests/<job>/<snapshot id>          written last; its presence makes the snapshot exist
 *   snapshots/<job>/<snapshot id>          a deduplicating (v2) snapshot; config, index/ and packs/ beside it (core/dedup/)
 *   data/<job>/<snapshot id>/<index:8>     segment objects
 *   locks/<job>/<owner>.json               one writer per job (./locks.ts)
 *   checkpoints/<operation>/<seq:12>.json  progress of long operations (core/checkpoints/store.ts)
 */
import { CheckpointStore, type CheckpointStoreOptions } from '../checkpoints/store.js';
import type { ObjectInfo, StorageOptions } from '../contracts.js';
import type { StageCatalog } from '../codec/stages.js';
import type { Encryption } from '../crypto/encryption.js';
import { DATA_PREFIX, forgottenKey, MANIFESTS_PREFIX, manifestKey, newSnapshotId, parseManifestKey, segmentKey, snapshotDataPrefix } from './layout.js';
import { acquireJobLock, findLocks, removeLocks, type FoundLock, type HeldLock, type LockOptions } from './locks.js';
import type { ManifestHeader, ManifestSource } from '../format/manifest.js';
import {
  listSnapshots,
  openSnapshot,
  readListed,
  readManifestHeader,
  resolveSnapshot,
  type ListSnapshotsOptions,
  type ResolveOptions,
  type OpenedSnapshot,
  type SnapshotInfo,
} from './snapshots.js';
import type { Storage } from './storage.js';
import { cachedHeader } from './header-cache.js';
import { openSnapshotSources } from './snapshot-sources.js';
import { snapshotKeyV2 } from '../dedup/snapshot.js';
import { FailsafeError } from '../errors.js';
import { pauseForTest } from '../testing/test-hooks.js';

/** Options of a removal: `objects`, when given, limits it to those keys (as listed earlier) instead of listing again. */
export interface RemoveUnfinishedOptions extends StorageOptions {
  objects?: string[];
  /** Called after each object is deleted (a discard's progress). */
  deleted?: (key: string) => void;
}

export class Repository {
  readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  get targetName(): string {
    return this.storage.targetName;
  }

  /** Where segment `index` of a snapshot is stored: the same in every target, so it needs no repository. */
  static segmentKey(job: string, id: string, index: number): string {
    return segmentKey(job, id, index);
  }

  /** A new snapshot id: sorts by time, unique across hosts writing the same job. */
  static newSnapshotId(now?: Date): string {
    return newSnapshotId(now);
  }

  /** Takes the job's lock in every repository, or throws E_LOCKED naming the holder (./locks.ts). */
  static lockJob(repositories: Repository[], job: string, options: LockOptions = {}): Promise<HeldLock> {
    return acquireJobLock(
      repositories.map((r) => r.storage),
      job,
      options,
    );
  }

  // ------------------------------------------------------------ snapshots

  /** Snapshots in this target, newest first; unreadable manifests are reported through `warn` and skipped. */
  listSnapshots(options: ListSnapshotsOptions = {}): Promise<SnapshotInfo[]> {
    return listSnapshots(this.storage, options);
  }

  /** `latest`, a full id or a unique id prefix → the snapshot; E_SNAPSHOT_NOT_FOUND otherwise. */
  async resolveSnapshot(ref: string, job?: string, options: ResolveOptions = {}): Promise<SnapshotInfo> {
    return (await this.#exactSnapshot(ref, job)) ?? resolveSnapshot(this.storage, ref, job, options);
  }

  /**
   * A full id of a named job, found by its manifest's name: its header alone
   * is read (or taken from those kept), where the listing reads the name,
   * size and time of every snapshot of the job (20–140 ms for 1,000 under
   * load, twice for the dashboard's first folder of a snapshot). Anything else
   * (a prefix, no such object, a header that does not read, a snapshot also
   * stored in format 2) is left to the listing, which answers it as before.
   */
  async #exactSnapshot(ref: string, job: string | undefined): Promise<SnapshotInfo | undefined> {
    const parsed = job === undefined || ref === 'latest' ? undefined : parseManifestKey(manifestKey(job, ref));
    if (parsed?.job !== job || parsed?.id !== ref) return undefined;
    try {
      const [object, v2] = await Promise.all([
        this.storage.head(manifestKey(parsed.job, parsed.id)),
        this.storage.exists(snapshotKeyV2(parsed.job, parsed.id)),
      ]);
      // A kept header is copied, as the listing copies it.
      return object && !v2 ? { ...(await cachedHeader(this.storage, object, () => readListed(this.storage, parsed))) } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Loads and authenticates a snapshot's manifest; `stages` names the job's registered codecs (core/codec/stages.ts). */
  async openSnapshot(job: string, id: string, encryption: Encryption, stages?: StageCatalog): Promise<OpenedSnapshot> {
    if (!(await this.storage.exists(snapshotKeyV2(job, id)))) return openSnapshot(this.storage, job, id, encryption, stages);
    if (encryption.mode !== 'keys') throw new FailsafeError('E_KEY_MISSING', `${this.targetName}: a deduplicating snapshot opens with the repository's keys`);
    const { openSnapshotV2 } = await import('../dedup/open.js');
    return openSnapshotV2(this.storage, job, id, encryption.keyRing, encryption.trust);
  }

  /** A format-1 snapshot's sources, its manifest authenticated but decoded no further; undefined for format 2, or when they cannot be read alone. */
  async openSources(job: string, id: string, encryption: Encryption): Promise<ManifestSource[] | undefined> {
    if (await this.storage.exists(snapshotKeyV2(job, id))) return undefined;
    return openSnapshotSources(this.storage, job, id, encryption);
  }

  /** A manifest's public header: readable without a key, and unauthenticated without one. */
  readManifestHeader(job: string, id: string): Promise<ManifestHeader> {
    return readManifestHeader(this.storage, job, id);
  }

  /** True once the snapshot's manifest is stored: from then on the snapshot exists. */
  hasSnapshot(job: string, id: string, options: StorageOptions = {}): Promise<boolean> {
    return this.storage.exists(manifestKey(job, id), options);
  }

  /** How messages name a snapshot's manifest: `<target>:<key>`. */
  manifestLabel(job: string, id: string): string {
    return `${this.targetName}:${manifestKey(job, id)}`;
  }

  /** The manifest's stored bytes, as written. */
  readManifest(job: string, id: string, options: StorageOptions = {}): Promise<Buffer> {
    return this.storage.getBuffer(manifestKey(job, id), options);
  }

  /** Stores a snapshot's manifest, making the snapshot exist (or replacing its manifest, as `keys rotate` does). */
  async writeManifest(job: string, id: string, manifest: Buffer, options: StorageOptions = {}): Promise<void> {
    await this.storage.put(manifestKey(job, id), manifest, options);
  }

  /** The end of the retention lock on the snapshot's manifest (format 1) or object (format 2), or undefined when it may be removed. */
  snapshotLockedUntil(job: string, id: string, format: 1 | 2, options: StorageOptions = {}): Promise<Date | undefined> {
    return this.storage.lockedUntil(format === 2 ? snapshotKeyV2(job, id) : manifestKey(job, id), options);
  }

  /** The snapshot's segment objects, in key order. */
  snapshotData(job: string, id: string, options: StorageOptions = {}): AsyncIterable<ObjectInfo> {
    return this.storage.list(snapshotDataPrefix(job, id), options);
  }

  /**
   * Removes a snapshot: marked forgotten, then the manifest, so that from then
   * on the snapshot does not exist whatever happens to its segments; a crash
   * mid-way leaves only data without a manifest and with the mark, which the
   * next prune clears (`forgottenKey`).
   */
  async deleteSnapshot(job: string, id: string, options: StorageOptions = {}): Promise<void> {
    // A v2 snapshot is one object; the packs only it used go with prune's sweep (core/maintenance/prune-packs.ts).
    await this.storage.delete(snapshotKeyV2(job, id), options);
    // Without a manifest (an abandoned run's data) there is nothing to mark: only data to remove.
    if (await this.hasSnapshot(job, id, options)) {
      await this.storage.put(forgottenKey(job, id), Buffer.from(new Date().toISOString()), options);
      await pauseForTest('prune-marked');
      await this.storage.delete(manifestKey(job, id), options);
      await pauseForTest('prune-manifest-deleted');
    }
    await this.#deleteData(job, id, undefined, options);
  }

  /** Whether data without a manifest is a removal prune began (and the next one finishes at once). */
  isForgotten(job: string, id: string, objects: ObjectInfo[]): boolean {
    return objects.some((o) => o.key === forgottenKey(job, id));
  }

  // ------------------------------------------------------------ unfinished snapshots

  /** Data of the job's snapshots that have no manifest (a backup in progress, crashed or abandoned), by snapshot id. */
  async unfinished(job: string, options: StorageOptions = {}): Promise<Map<string, ObjectInfo[]>> {
    const manifests = new Set<string>();
    for await (const object of this.storage.list(`${MANIFESTS_PREFIX}${job}/`, options)) {
      const parsed = parseManifestKey(object.key);
      if (parsed) manifests.add(parsed.id);
    }
    const found = new Map<string, ObjectInfo[]>();
    for await (const object of this.storage.list(`${DATA_PREFIX}${job}/`, options)) {
      const id = object.key.split('/')[2];
      if (id === undefined || manifests.has(id)) continue;
      found.set(id, [...(found.get(id) ?? []), object]);
    }
    return found;
  }

  /**
   * Removes the data of a snapshot whose manifest was never written. When the
   * manifest exists (the backup finished after all) nothing is touched: that
   * is a snapshot, not leftovers. Resolves with whether anything was removed.
   */
  async removeUnfinished(job: string, id: string, options: RemoveUnfinishedOptions = {}): Promise<boolean> {
    const { objects, deleted, ...storageOptions } = options;
    if (await this.hasSnapshot(job, id, storageOptions)) return false;
    await this.#deleteData(job, id, objects, storageOptions, deleted);
    return true;
  }

  async #deleteData(job: string, id: string, objects: string[] | undefined, options: StorageOptions, deleted?: (key: string) => void): Promise<void> {
    if (objects) {
      const prefix = snapshotDataPrefix(job, id);
      for (const key of objects.filter((k) => k.startsWith(prefix))) {
        await this.storage.delete(key, options);
        deleted?.(key);
      }
      return;
    }
    for await (const object of this.snapshotData(job, id, options)) {
      await this.storage.delete(object.key, options);
      await pauseForTest('prune-segment-deleted');
    }
  }

  // ------------------------------------------------------------ locks and checkpoints

  /** Takes the job's lock in this target alone; for several targets at once, `Repository.lockJob`. */
  lockJob(job: string, options: LockOptions = {}): Promise<HeldLock> {
    return Repository.lockJob([this], job, options);
  }

  /** The job's (or every job's) locks in this target, each judged stale or live. */
  findLocks(job?: string): Promise<FoundLock[]> {
    return findLocks(this.storage, job);
  }

  /** Removes stale locks (or, with `all`, every lock) of a job or of all jobs; resolves with what it removed. */
  removeLocks(options: { job?: string; all?: boolean } = {}): Promise<FoundLock[]> {
    return removeLocks(this.storage, options);
  }

  /** The checkpoints of long operations kept in this target. */
  checkpoints(options: CheckpointStoreOptions = {}): CheckpointStore {
    return new CheckpointStore(this.storage, options);
  }
}
