/**
 * `keys rotate` over the deployment's deduplicating (format 2) repositories:
 * each target holding a `config` is rotated whole (core/dedup/rotate.ts),
 * since its packs are shared by every job that backs up there.
 */
import type { Encryption } from '../../core/crypto/encryption.js';
import type { KeyRing } from '../../core/crypto/keys.js';
import { asFailsafeError, FailsafeError, isFailsafeError } from '../../core/errors.js';
import type { RotateReport } from '../../core/maintenance/rotate.js';
import { withRepositoryLocked } from '../../core/maintenance/repository-locks.js';
import { CONFIG_KEY } from '../../core/pack/repository-config.js';
import type { Repository } from '../../core/repository/repository.js';
import type { Deployment } from '../container.js';
import { isWriteOnly } from './dedup-backup.js';

/** Whether the target is a format 2 repository (its config is what `keys rotate` must move to the new keys). */
export async function isDeduplicating(repository: Repository, signal?: AbortSignal): Promise<boolean> {
  return repository.storage.exists(CONFIG_KEY, signal ? { signal } : {});
}

export interface RotateV2Options {
  job?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Rotates one format 2 repository, adding what it did to `report`. */
export async function rotateDeduplicated(
  deployment: Deployment,
  repository: Repository,
  openWith: Encryption[],
  options: RotateV2Options,
  report: RotateReport,
): Promise<void> {
  const target = repository.targetName;
  try {
    // A job's snapshots cannot move alone: the config and packs they use are every job's.
    if (options.job !== undefined)
      throw new FailsafeError(
        'E_USAGE',
        `${target} is a deduplicating repository, rotated whole: its packs are shared by every job (run keys rotate without --job)`,
      );
    const seal = await deployment.encryption('seal');
    if (seal.mode !== 'keys') throw new FailsafeError('E_CONFIG', 'a deduplicating repository needs encryption keys');
    const rings = openWith.flatMap((e): KeyRing[] => (e.mode === 'keys' ? [e.keyRing] : []));
    const trust = await deployment.trustPolicy();
    const { rotateRepositoryV2 } = await import('../../core/dedup/rotate.js');
    const rotate = (): ReturnType<typeof rotateRepositoryV2> =>
      rotateRepositoryV2({
        storage: repository.storage,
        openWith: rings,
        sealWith: seal.keyRing,
        writeOnly: isWriteOnly(deployment),
        trusted: trust?.keys ?? [],
        ...(seal.signer ? { signer: seal.signer } : {}),
        ...(options.dryRun ? { dryRun: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    // A backup beside the rotation would seal its packs for the key set being taken away.
    const { rotated, failures, ...summary } = options.dryRun
      ? await rotate()
      : await withRepositoryLocked(repository.storage, deployment.jobNames(), options.signal ? { signal: options.signal } : {}, rotate);
    report.rotated.push(...rotated.map((s) => ({ ...s, target })));
    report.failures.push(...failures.map((f) => ({ id: f.object, job: '', target, code: f.code, message: f.message, object: f.object })));
    (report.repositories ??= []).push(summary);
  } catch (err) {
    // Locked: nothing was written; the operator runs it again once the backup is done.
    if (options.signal?.aborted || isFailsafeError(err, 'E_LOCKED')) throw err;
    const e = asFailsafeError(err);
    report.failures.push({ id: CONFIG_KEY, job: '', target, code: e.code, message: e.message, object: CONFIG_KEY });
  }
}
