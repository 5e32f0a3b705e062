/**
 * A job's backup into deduplicating (format 2) repositories: one run per
 * target, as each target is a repository of its own with its own chunk ids.
 * There is no journal: a killed run's packs are found again by the next one
 * from their headers and not stored twice (docs/design/dedup.md).
 */
import { pickDefined } from '../../core/util/defined.js';
import { join } from 'node:path';
import type { BackupProgress, SnapshotSummary, TargetFailure } from '../../core/backup/types.js';
import type { DedupProgress } from '../../core/dedup/backup.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import type { JobConfig } from '../../core/config/load.js';
import type { SourcePlugin } from '../../core/contracts.js';
import type { KeyRing } from '../../core/crypto/keys.js';
import type { Signer } from '../../core/crypto/signing.js';
import { asFailsafeError, FailsafeError } from '../../core/errors.js';
import type { Deployment } from '../container.js';
import type { BackupOptions } from '../options.js';

/** The deployment's key ring: a deduplicating repository is always encrypted (core/config/load.ts refuses `none`). */
export async function dedupKeyRing(deployment: Deployment, purpose: 'seal' | 'open'): Promise<KeyRing> {
  return (await dedupKeys(deployment, purpose)).keyRing;
}

/** The key ring, and the signing key when sealing with one. */
async function dedupKeys(deployment: Deployment, purpose: 'seal' | 'open'): Promise<{ keyRing: KeyRing; signer?: Signer }> {
  const encryption = await deployment.encryption(purpose);
  if (encryption.mode !== 'keys') throw new FailsafeError('E_CONFIG', 'a deduplicating repository needs encryption keys');
  return { keyRing: encryption.keyRing, ...(encryption.signer ? { signer: encryption.signer } : {}) };
}

/**
 * Packs are sealed for the recipients alone when recipients are configured
 * without a passphrase: the key file then only opens the repository's index,
 * and this host cannot read back what it wrote (docs/encryption.md).
 */
export function isWriteOnly(deployment: Deployment): boolean {
  const encryption = deployment.config.encryption;
  return encryption.mode === 'keys' && (encryption.recipients?.length ?? 0) > 0 && encryption.passphrase === undefined;
}

/** Where each repository's files caches live: beside the configuration, like the restore journal. */
export function filesCacheDir(deployment: Deployment): string {
  return join(deployment.stateDir, 'files-cache');
}

export async function backupDeduplicatedJob(
  deployment: Deployment,
  job: JobConfig,
  options: BackupOptions,
  progress?: { update: (progress: BackupProgress) => void; completed: () => void },
  wrapSources: (sources: SourcePlugin[]) => SourcePlugin[] = (sources) => sources,
): Promise<{ snapshots: SnapshotSummary[]; failedTargets: TargetFailure[] }> {
  const { backupDeduplicated } = await import('../../core/dedup/backup.js');
  const { keyRing, signer } = await dedupKeys(deployment, 'seal');
  const { compression, repository } = deployment.config;
  const codec = createSegmentCodec('zstd', compression.level);
  const result = { snapshots: [] as SnapshotSummary[], failedTargets: [] as TargetFailure[] };
  for (const storage of deployment.targetsOf(job)) {
    try {
      const run = await backupDeduplicated({
        job: job.name,
        sources: wrapSources(deployment.sources(job, pickDefined({ exclude: options.exclude, include: options.include }))),
        storage,
        keyRing,
        ...(signer ? { signer } : {}),
        codec,
        level: compression.level,
        writeOnly: isWriteOnly(deployment),
        cacheDir: filesCacheDir(deployment),
        now: () => deployment.clock.now(),
        ...(repository.packSize === undefined ? {} : { packSize: repository.packSize }),
        ...(options.tags?.length ? { tags: options.tags } : {}),
        ...(options.forceReread ? { forceReread: true } : {}),
        ...(progress ? { onProgress: (p: DedupProgress) => progress.update({ job: job.name, targets: [storage.targetName], segments: 0, ...p }) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.warn ? { warn: options.warn } : {}),
      });
      const { files, bytes, storedBytes } = run.stats;
      result.snapshots.push({
        id: run.id,
        job: job.name,
        target: storage.targetName,
        createdAt: run.createdAt,
        files,
        bytes,
        storedBytes,
      });
      progress?.completed();
    } catch (err) {
      if (options.signal?.aborted) throw err;
      result.failedTargets.push({ target: storage.targetName, error: asFailsafeError(err) });
    }
  }
  if (result.snapshots.length === 0 && result.failedTargets.length > 0) throw result.failedTargets[0]!.error;
  return result;
}
