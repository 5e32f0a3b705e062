/**
 * The v2 snapshots of a target as `list` shows them, from their public
 * headers (no key needed). A snapshot object whose header names another job
 * or id than its key is refused: a copy of one snapshot under another name
 * would otherwise show twice and hide the one it replaced.
 */
import type { ObjectInfo } from '../contracts.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import { cachedHeader } from '../repository/header-cache.js';
import type { Storage } from '../repository/storage.js';
import { decodeSnapshotHeaderV2, SNAPSHOTS_PREFIX } from './snapshot.js';

/** A listed v2 snapshot: a `SnapshotInfo` (core/repository/snapshots.ts) with `format: 2`. */
export interface ListedSnapshotV2 {
  id: string;
  job: string;
  target: string;
  createdAt: string;
  files: number;
  bytes: number;
  storedBytes: number;
  /** The chunks it uses. */
  segments: number;
  format: 2;
  tags?: string[];
  warnings?: number;
  durationMs?: number;
}

export interface ListV2Options {
  job?: string;
  warn?: (message: string) => void;
  /** Told of every snapshot object skipped as unreadable (as `listSnapshots` tells of manifests). */
  unreadable?: (object: { job: string; id: string; key: string; error: FailsafeError }) => void;
}

export async function listSnapshotsV2(storage: Storage, options: ListV2Options = {}): Promise<ListedSnapshotV2[]> {
  const prefix = options.job === undefined ? SNAPSHOTS_PREFIX : `${SNAPSHOTS_PREFIX}${options.job}/`;
  const found: ListedSnapshotV2[] = [];
  for await (const object of storage.list(prefix)) {
    const [job, id, extra] = object.key.slice(SNAPSHOTS_PREFIX.length).split('/');
    if (job === undefined || id === undefined || extra !== undefined) continue;
    try {
      found.push(await readListedV2(storage, object, job, id));
    } catch (err) {
      if (!isFailsafeError(err)) throw err;
      options.warn?.(`skipping ${storage.targetName}:${object.key}: ${err.message}`);
      options.unreadable?.({ job, id, key: object.key, error: new FailsafeError(err.code, err.message, { cause: err, object: object.key }) });
    }
  }
  return found;
}

/** One v2 snapshot object's header as `list` shows it (kept when the storage keeps headers); E_CORRUPT when it names another snapshot. */
export async function readListedV2(storage: Storage, object: ObjectInfo, job: string, id: string): Promise<ListedSnapshotV2> {
  const what = `${storage.targetName}:${object.key}`;
  const header = await cachedHeader(storage, object, async () => decodeSnapshotHeaderV2(await storage.getBuffer(object.key), what));
  if (header.job !== job || header.id !== id) throw new FailsafeError('E_CORRUPT', `${what}: its header names ${header.job}/${header.id}`);
  const { files, bytes, storedBytes, chunks } = header.stats;
  return {
    id,
    job,
    target: storage.targetName,
    createdAt: header.createdAt,
    files,
    bytes,
    storedBytes,
    segments: chunks,
    format: 2,
    ...(header.tags?.length ? { tags: header.tags } : {}),
    ...(header.warnings ? { warnings: header.warnings } : {}),
    ...(header.durationMs === undefined ? {} : { durationMs: header.durationMs }),
  };
}
