/**
 * The second half of a prune on a deduplicating (v2) target: once retention
 * has removed snapshot objects, the packs only they used are swept and
 * partly used ones repacked (core/dedup/prune.ts). Every job that has
 * snapshots in the target is locked first: a backup running meanwhile may
 * have found a chunk in a pack this sweep is about to delete, and would then
 * write a snapshot naming a chunk that is gone.
 */
import type { KeyRing } from '../crypto/keys.js';
import type { DedupPruneProgress, DedupPruneReport } from '../dedup/prune.js';
import { SNAPSHOTS_PREFIX } from '../dedup/snapshot.js';
import { CONFIG_KEY } from '../pack/repository-config.js';
import { acquireJobLock, type HeldLock } from '../repository/locks.js';
import type { Storage } from '../repository/storage.js';

export interface PackPruneSettings {
  keyRing: () => Promise<KeyRing>;
  writeOnly: boolean;
  packSize?: number;
  /** Jobs of this deployment, locked beside those found in the target. */
  jobs: string[];
}

/** Whether the target holds a deduplicating repository. */
export async function isDeduplicating(storage: Storage, options: { signal?: AbortSignal } = {}): Promise<boolean> {
  return (await storage.head(CONFIG_KEY, options)) !== undefined;
}

export async function prunePacks(
  storage: Storage,
  settings: PackPruneSettings,
  options: { dryRun?: boolean; now?: Date; signal?: AbortSignal; warn?: (message: string) => void; onProgress?: (progress: DedupPruneProgress) => void },
): Promise<DedupPruneReport> {
  const opts = options.signal ? { signal: options.signal } : {};
  const jobs = new Set(settings.jobs);
  for await (const object of storage.list(SNAPSHOTS_PREFIX, opts)) jobs.add(object.key.slice(SNAPSHOTS_PREFIX.length).split('/')[0]!);
  const locks: HeldLock[] = [];
  try {
    if (!options.dryRun) for (const job of jobs) locks.push(await acquireJobLock([storage], job, options.warn ? { warn: options.warn } : {}));
    const { pruneDeduplicated } = await import('../dedup/prune.js');
    return await pruneDeduplicated({
      storage,
      keyRing: await settings.keyRing(),
      forget: [],
      writeOnly: settings.writeOnly,
      ...(settings.packSize === undefined ? {} : { packSize: settings.packSize }),
      ...(options.now ? { now: options.now } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...opts,
    });
  } finally {
    for (const lock of locks) await lock.release().catch(() => undefined);
  }
}
