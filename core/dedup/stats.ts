/**
 * What a deduplicating repository holds, without a key: the public headers
 * of its snapshots and the sizes of its objects (`failsafe stats`, issue
 * 21). The logical size is what the snapshots would take stored in full;
 * the ratio of the two is the deduplication (and compression) ratio.
 */
import type { Storage } from '../repository/storage.js';
import type { ListedSnapshotV2 } from './list.js';
import { SNAPSHOTS_PREFIX, snapshotKeyV2 } from './snapshot.js';
import { compareText } from '../util/order.js';

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

/** Every object of the repository added up, from a listing alone; and each snapshot object's own size. */
async function objectSizes(storage: Storage, options: { signal?: AbortSignal }): Promise<{ storedBytes: number; snapshotObjects: Map<string, number> }> {
  let storedBytes = 0;
  const snapshotObjects = new Map<string, number>();
  for (const prefix of PREFIXES) {
    for await (const object of storage.list(prefix, options)) {
      storedBytes += object.size;
      if (prefix === SNAPSHOTS_PREFIX) snapshotObjects.set(object.key, object.size);
    }
  }
  return { storedBytes, snapshotObjects };
}

export async function repositoryBytes(storage: Storage, options: { signal?: AbortSignal } = {}): Promise<number> {
  return (await objectSizes(storage, options)).storedBytes;
}

/**
 * The repository's figures for its snapshots as `list` read them (their
 * headers validated there, each object read once): what a snapshot added is
 * what its backup stored plus its own object.
 */
export async function repositoryStats(
  storage: Storage,
  listed: readonly Pick<ListedSnapshotV2, 'job' | 'id' | 'createdAt' | 'bytes' | 'storedBytes'>[],
  options: { signal?: AbortSignal } = {},
): Promise<RepositoryStats> {
  const { storedBytes, snapshotObjects } = await objectSizes(storage, options);
  const snapshots = listed.map((s): SnapshotAdded => ({
    job: s.job,
    id: s.id,
    createdAt: s.createdAt,
    bytes: s.bytes,
    addedBytes: s.storedBytes + (snapshotObjects.get(snapshotKeyV2(s.job, s.id)) ?? 0),
  }));
  snapshots.sort((a, b) => compareText(a.createdAt, b.createdAt) || compareText(a.id, b.id));
  const logicalBytes = snapshots.reduce((sum, s) => sum + s.bytes, 0);
  return { storedBytes, logicalBytes, ratio: storedBytes > 0 ? logicalBytes / storedBytes : 0, snapshots };
}
