/** Choosing targets and snapshots from `--job`, `--target` and a snapshot reference. */
import { FailsafeError, isFailsafeError } from '../../core/errors.js';
import type { Repository } from '../../core/repository/repository.js';
import type { SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';

/** `--target`, else the job's targets, else every target. */
export function selectRepositories(deployment: Deployment, options: SelectOptions): Repository[] {
  if (options.target) return [deployment.repository(options.target)];
  const names = options.job ? deployment.job(options.job).targets : Object.keys(deployment.config.targets);
  return names.map((name) => deployment.repository(name));
}

/** Finds a snapshot: in `--target` or the job's targets in order; `latest` needs a job when there are several. */
export async function findSnapshot(deployment: Deployment, ref: string, options: SelectOptions): Promise<{ repository: Repository; info: SnapshotInfo }> {
  let job = options.job;
  if (job === undefined && ref === 'latest') {
    const names = deployment.jobNames();
    if (names.length !== 1) throw new FailsafeError('E_USAGE', `several jobs (${names.join(', ')}): choose one with --job`);
    job = names[0];
  }
  let lastError: unknown;
  const trust = ref === 'latest' ? await deployment.trustPolicy() : undefined;
  for (const repository of selectRepositories(deployment, { ...options, ...(job ? { job } : {}) })) {
    try {
      return { repository, info: await repository.resolveSnapshot(ref, job, trust ? { trust } : {}) };
    } catch (err) {
      if (!isFailsafeError(err, 'E_SNAPSHOT_NOT_FOUND')) throw err;
      lastError = err;
    }
  }
  throw lastError ?? new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${ref}" not found`);
}
