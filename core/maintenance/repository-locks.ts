/**
 * Locks every job of a deduplicating (format 2) repository: its packs and
 * config are shared by every job that backs up there, so an operation that
 * rewrites or deletes them (prune's sweep, `keys rotate`) must not run beside
 * any backup to the target. A backup running meanwhile may have found a
 * chunk in a pack a sweep is about to delete, or sealed new packs for a key
 * set a rotation is taking away. The jobs locked are the deployment's and
 * every job with snapshots in the target.
 */
import { SNAPSHOTS_PREFIX } from '../dedup/snapshot.js';
import { acquireJobLock, type HeldLock } from '../repository/locks.js';
import type { Storage } from '../repository/storage.js';

export interface RepositoryLockOptions {
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

/** Runs `work` holding the lock of every job of the repository; E_LOCKED (nothing run) when a backup holds one. */
export async function withRepositoryLocked<T>(storage: Storage, jobs: readonly string[], options: RepositoryLockOptions, work: () => Promise<T>): Promise<T> {
  const all = new Set(jobs);
  for await (const object of storage.list(SNAPSHOTS_PREFIX, options.signal ? { signal: options.signal } : {})) {
    all.add(object.key.slice(SNAPSHOTS_PREFIX.length).split('/')[0]!);
  }
  const locks: HeldLock[] = [];
  try {
    for (const job of [...all].sort()) locks.push(await acquireJobLock([storage], job, options.warn ? { warn: options.warn } : {}));
    return await work();
  } finally {
    for (const lock of locks) await lock.release().catch(() => undefined);
  }
}
