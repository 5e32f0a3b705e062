/**
 * What a deduplicating repository holds, without a key: the public headers
 * of its snapshots and the sizes of its objects (`failsafe stats`, issue
 * 21). The logical size is what the snapshots would take stored in full;
 * the ratio of the two is the deduplication (and compression) ratio.
 */
import type { Storage } from '../repository/storage.js';
import { decodeSnapshotHeaderV2, SNAPSHOTS_PREFIX } from './snapshot.js';

export interface SnapshotAdded {
  job: string;
  id: string;
  createdAt: string;
  /** The snapshot's data, and what its backup added to the repository. */
  bytes: number;
  addedBytes: number;
}

export interface RepositoryStats {
  /** Every object of the repository: packs, index objects, snapshots, config. */
  storedBytes: number;
  /** The snapshots' data added up, as if each were stored in full. */
  logicalBytes: number;
  /** logicalBytes / storedBytes (0 for an empty repository). */
  ratio: number;
  snapshots: SnapshotAdded[];
}

const PREFIXES = ['packs/', 'index/', SNAPSHOTS_PREFIX, 'config'];

/** Every object of the repository added up, from a listing alone. */
export async function repositoryBytes(storage: Storage, options: { signal?: AbortSignal } = {}): Promise<number> {
  let storedBytes = 0;
  for (const prefix of PREFIXES) for await (const object of storage.list(prefix, options)) storedBytes += object.size;
  return storedBytes;
}

export async function repositoryStats(storage: Storage, options: { signal?: AbortSignal } = {}): Promise<RepositoryStats> {
  const storedBytes = await repositoryBytes(storage, options);
  const snapshots: SnapshotAdded[] = [];
  for await (const object of storage.list(SNAPSHOTS_PREFIX, options)) {
    const header = decodeSnapshotHeaderV2(await storage.getBuffer(object.key, options), `${storage.targetName}:${object.key}`);
    snapshots.push({
      job: header.job,
      id: header.id,
      createdAt: header.createdAt,
      bytes: header.stats.bytes,
      addedBytes: header.stats.storedBytes + object.size,
    });
  }
  snapshots.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const logicalBytes = snapshots.reduce((sum, s) => sum + s.bytes, 0);
  return { storedBytes, logicalBytes, ratio: storedBytes > 0 ? logicalBytes / storedBytes : 0, snapshots };
}
