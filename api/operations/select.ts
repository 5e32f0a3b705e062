/** Choosing targets and snapshots from `--job`, `--target` and a snapshot reference. */
import { FailsafeError, isFailsafeError } from '../../core/errors.js';
import { resolveSnapshot, type SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Storage } from '../../core/repository/storage.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';

/** `--target`, else the job's targets, else every target. */
export function selectTargets(deployment: Deployment, options: SelectOptions): Storage[] {
  if (options.target) return [deployment.storage(options.target)];
  const names = options.job ? deployment.job(options.job).targets : Object.keys(deployment.config.targets);
  return names.map((name) => deployment.storage(name));
}

/** Finds a snapshot: in `--target` or the job's targets in order; `latest` needs a job when there are several. */
export async function findSnapshot(deployment: Deployment, ref: string, options: SelectOptions): Promise<{ storage: Storage; info: SnapshotInfo }> {
  let job = options.job;
  if (job === undefined && ref === 'latest') {
    const names = deployment.jobNames();
    if (names.length !== 1) throw new FailsafeError('E_USAGE', `several jobs (${names.join(', ')}): choose one with --job`);
    job = names[0];
  }
  let lastError: unknown;
  for (const storage of selectTargets(deployment, { ...options, ...(job ? { job } : {}) })) {
    try {
      return { storage, info: await resolveSnapshot(storage, ref, job) };
    } catch (err) {
      if (!isFailsafeError(err, 'E_SNAPSHOT_NOT_FOUND')) throw err;
      lastError = err;
    }
  }
  throw lastError ?? new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${ref}" not found`);
}
