/**
 * A job's newest snapshot in a target without reading every header: snapshot
 * names sort by time (`<UTC stamp>-<random>`, layout.ts), so the listing's
 * names are ordered and headers read from the newest name down until one is
 * a backup dated no later than the clock. What a first overview needs
 * (the last success, its age and size, the health that follows from them)
 * costs one header instead of a thousand; the count comes from the listing.
 *
 * A name is not trusted for the date: the header's `createdAt` decides, as
 * in `listSnapshots`. A header that cannot be read is skipped, as
 * `listSnapshots` skips it (and `status` with it). One whose name is older
 * than its date (a forgery, or a clock set back) can be missed here: this is
 * a first answer, which the full listing follows (`status`'s `newestOnly`).
 */
import { readListedV2 } from '../dedup/list.js';
import { SNAPSHOTS_PREFIX } from '../dedup/snapshot.js';
import { isFailsafeError } from '../errors.js';
import { cachedHeader } from './header-cache.js';
import { isFuture, MANIFESTS_PREFIX, parseManifestKey } from './layout.js';
import { PRE_RESTORE_TAG } from './signature-state.js';
import { readListed, type SnapshotInfo } from './snapshots.js';
import type { Storage } from './storage.js';
import { compareText } from '../util/order.js';

export interface NewestSnapshots {
  /** The headers read, newest first, as `listSnapshots` orders them: down to the newest backup, or all when there is none. */
  snapshots: SnapshotInfo[];
  /** The job's snapshot objects in the target (both formats), listed, not read. */
  objects: number;
}

/** `job`'s snapshots in `storage`, read from the newest name down to the newest backup not dated past `now`. */
export async function newestSnapshots(storage: Storage, job: string, now: Date): Promise<NewestSnapshots> {
  const named: { id: string; read: () => Promise<SnapshotInfo> }[] = [];
  for await (const object of storage.list(`${MANIFESTS_PREFIX}${job}/`)) {
    const parsed = parseManifestKey(object.key);
    // A kept header is copied, as listSnapshots copies it.
    if (parsed?.job === job)
      named.push({ id: parsed.id, read: () => cachedHeader(storage, object, () => readListed(storage, parsed)).then((s) => ({ ...s })) });
  }
  for await (const object of storage.list(`${SNAPSHOTS_PREFIX}${job}/`)) {
    const [name, id, extra] = object.key.slice(SNAPSHOTS_PREFIX.length).split('/');
    if (name === job && id !== undefined && extra === undefined) named.push({ id, read: () => readListedV2(storage, object, job, id) });
  }
  named.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const snapshots: SnapshotInfo[] = [];
  for (const { read } of named) {
    const snapshot = await read().catch((err: unknown) => {
      if (isFailsafeError(err)) return undefined;
      throw err;
    });
    if (!snapshot) continue;
    snapshots.push(snapshot);
    if (!snapshot.tags?.includes(PRE_RESTORE_TAG) && !isFuture(snapshot, now)) break;
  }
  snapshots.sort((a, b) => (a.createdAt === b.createdAt ? compareText(b.id, a.id) : compareText(b.createdAt, a.createdAt)));
  return { snapshots, objects: named.length };
}
