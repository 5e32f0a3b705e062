/**
 * The deployment's checkpoint stores and the unfinished operations they
 * record: listing them with their progress, resuming interrupted backups,
 * discarding one (with the segments an interrupted backup stored).
 */
import type { BackupCheckpointData } from '../../core/backup/journal.js';
import type { CheckpointStore } from '../../core/checkpoints/store.js';
import { FailsafeError } from '../../core/errors.js';
import type { FoundLock } from '../../core/repository/locks.js';
import { Repository } from '../../core/repository/repository.js';
import type { Deployment } from '../container.js';
import type { DiscardOptions, RecoverableOperation, SelectOptions } from '../options.js';
import { selectRepositories } from './select.js';

type WarnOption = { warn?: (message: string) => void };

/** In `checkpoints.target`, or (without that key) in the first target of `job` or of the first job. */
export function checkpointStore(deployment: Deployment, options: { job?: string } & WarnOption = {}): CheckpointStore {
  const configured = deployment.config.checkpoints;
  const target = configured?.target ?? deployment.job(options.job ?? deployment.jobNames()[0]!).targets[0]!;
  return deployment.repository(target).checkpoints({ keep: configured?.keep ?? 10, ...(options.warn ? { warn: options.warn } : {}) });
}

/** Every checkpoint store the deployment uses: `checkpoints.target`, or each job's first target. */
function checkpointStores(deployment: Deployment, warn?: (message: string) => void): CheckpointStore[] {
  const stores = new Map<string, CheckpointStore>();
  for (const job of deployment.jobNames()) {
    const store = checkpointStore(deployment, { job, ...(warn ? { warn } : {}) });
    stores.set(store.storage.targetName, store);
  }
  return [...stores.values()];
}

export async function recoverable(deployment: Deployment, options: WarnOption = {}): Promise<RecoverableOperation[]> {
  const out: RecoverableOperation[] = [];
  for (const store of checkpointStores(deployment, options.warn)) {
    for (const op of await store.recoverable()) {
      const latest = await store.latest<Partial<BackupCheckpointData>>(op.operationId);
      const data = latest?.data;
      const backup = data?.kind === 'backup' && data.job !== undefined && deployment.jobNames().includes(data.job) ? data : undefined;
      // Killed after its manifest landed: the snapshot exists and there is nothing to recover (the next backup clears the record).
      if (backup?.snapshotId !== undefined && (await snapshotExists(deployment, backup.job!, backup.snapshotId))) continue;
      out.push({
        ...op,
        target: store.storage.targetName,
        ...(latest?.errors ? { recentErrors: latest.errors.recent } : {}),
        ...(backup
          ? { job: backup.job!, snapshotId: backup.snapshotId!, segments: backup.segments?.length ?? 0, plainBytes: Number(latest!.metadata.plainBytes ?? 0) }
          : {}),
      });
    }
  }
  return out;
}

async function snapshotExists(deployment: Deployment, job: string, id: string): Promise<boolean> {
  for (const target of deployment.job(job).targets) {
    if (
      await deployment
        .repository(target)
        .hasSnapshot(job, id)
        .catch(() => false)
    )
      return true;
  }
  return false;
}

/** Forgets an unfinished operation; for a backup, also removes the segments its run stored, holding the job's lock. */
export async function discard(deployment: Deployment, operationId: string, options: DiscardOptions = {}): Promise<void> {
  const op = (await recoverable(deployment, options)).find((o) => o.operationId === operationId);
  if (!op) throw new FailsafeError('E_NOT_FOUND', `no unfinished operation "${operationId}"`);
  const store = checkpointStores(deployment, options.warn).find((s) => s.storage.targetName === op.target)!;
  if (op.job === undefined || op.snapshotId === undefined) return store.discard(operationId);
  const repositories = deployment.job(op.job).targets.map((target) => deployment.repository(target));
  const lock = await Repository.lockJob(repositories, op.job, options.warn ? { warn: options.warn } : {});
  try {
    // A backup that completed after all left a snapshot, not leftovers: removeUnfinished leaves it alone.
    const found = await Promise.all(repositories.map(async (r) => (await r.unfinished(op.job!)).get(op.snapshotId!) ?? []));
    const sizes = new Map(found.flat().map((o) => [o.key, o.size]));
    const progress = { operationId, done: 0, total: sizes.size, bytes: 0, totalBytes: [...sizes.values()].reduce((a, b) => a + b, 0) };
    const deleted = (key: string): void => {
      Object.assign(progress, { done: progress.done + 1, bytes: progress.bytes + (sizes.get(key) ?? 0) });
      options.onProgress?.({ ...progress });
    };
    // Only the objects listed, each counted as it goes; what a crash left since is the next prune's.
    for (const [i, repository] of repositories.entries())
      await repository.removeUnfinished(op.job, op.snapshotId, { objects: found[i]!.map((o) => o.key), deleted });
    await store.discard(operationId);
  } finally {
    await lock.release();
  }
}

/** Removes stale lease locks (or all of them with `all`) of a job or of every job, in the selected targets. */
export async function unlock(deployment: Deployment, options: SelectOptions & { all?: boolean } = {}): Promise<FoundLock[]> {
  const removed: FoundLock[] = [];
  for (const repository of selectRepositories(deployment, options)) {
    removed.push(...(await repository.removeLocks({ ...(options.job ? { job: options.job } : {}), all: options.all === true })));
  }
  return removed;
}
