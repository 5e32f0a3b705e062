/**
 * The second half of a prune on a deduplicating (v2) target: once retention
 * has removed snapshot objects, the packs only they used are swept and
 * partly used ones repacked (core/dedup/prune.ts). Every job of the
 * repository is locked first (./repository-locks.ts): a backup running
 * meanwhile may have found a chunk in a pack this sweep is about to delete,
 * and would then write a snapshot naming a chunk that is gone.
 */
import type { KeyRing } from '../crypto/keys.js';
import type { DedupPruneProgress, DedupPruneReport } from '../dedup/prune.js';
import { CONFIG_KEY } from '../pack/repository-config.js';
import type { Storage } from '../repository/storage.js';
import { withRepositoryLocked } from './repository-locks.js';

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
  const prune = async (): Promise<DedupPruneReport> => {
    const { pruneDeduplicated } = await import('../dedup/prune.js');
    return pruneDeduplicated({
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
  };
  // A dry run deletes nothing, so it need not stop backups.
  if (options.dryRun) return prune();
  return withRepositoryLocked(storage, settings.jobs, { ...opts, ...(options.warn ? { warn: options.warn } : {}) }, prune);
}
