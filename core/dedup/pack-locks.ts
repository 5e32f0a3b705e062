/**
 * Retention locks (S3 Object Lock) on a deduplicating target. A pack written
 * long ago backs today's snapshots too, so its lock from upload time says
 * nothing about them: prune extends the lock of everything the kept
 * snapshots need, and never sweeps or repacks a pack still locked — the
 * store would refuse, or only hide it behind a delete marker while still
 * keeping (and billing) its bytes.
 */
import type { Storage } from '../repository/storage.js';

/** Requests in flight at once: a HEAD (and at most one PUT) each. */
const AT_ONCE = 8;

/** The keys among `keys` whose objects are locked beyond `now`. */
export async function lockedObjects(storage: Storage, keys: string[], now: number, options: { signal?: AbortSignal }): Promise<Set<string>> {
  const locked = new Set<string>();
  await eachAtOnce(keys, async (key) => {
    const until = await storage.lockedUntil(key, options);
    if (until && until.getTime() > now) locked.add(key);
  });
  return locked;
}

/** Extends the locks of `keys` (docs/storage-s3.md): how many, 0 when the target locks nothing. */
export async function extendLocks(storage: Storage, keys: string[], options: { signal?: AbortSignal }): Promise<number> {
  if (!storage.extendsLocks || keys.length === 0) return 0;
  // The first answer tells whether the target is set to lock at all; without a lock no further request is sent.
  if ((await storage.extendLock(keys[0]!, options)) === undefined) return 0;
  let extended = 1;
  await eachAtOnce(keys.slice(1), async (key) => {
    await storage.extendLock(key, options);
    extended++;
  });
  return extended;
}

async function eachAtOnce(keys: string[], work: (key: string) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys.length) await work(keys[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, keys.length) }, lane));
}
