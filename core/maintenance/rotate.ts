/**
 * `keys rotate`: gives existing snapshots the key slots of the deployment's
 * current key set. Only the manifest object is rewritten (one atomic put per
 * snapshot); segments keep their bytes, since the data key does not change.
 * Removing a recipient therefore protects nothing already copied: whoever
 * kept an old manifest and its private key can still read that snapshot.
 */
import { openDataKey, type Encryption } from '../crypto/encryption.js';
import { asFailsafeError, FailsafeError, isFailsafeError } from '../errors.js';
import { decodeManifest, deriveSnapshotKeys, resealManifest } from '../format/manifest.js';
import type { RotateV2Report } from '../dedup/rotate.js';
import { Repository } from '../repository/repository.js';
import type { SnapshotInfo } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import { pauseForTest } from '../testing/test-hooks.js';

export interface RotateReport {
  rotated: { id: string; job: string; target: string }[];
  /** `object`: the object of a format 2 repository that failed (a pack, the config, a snapshot object). */
  failures: { id: string; job: string; target: string; code: string; message: string; object?: string }[];
  /** Per format 2 repository: what its rotation rewrote (core/dedup/rotate.ts). */
  repositories?: Omit<RotateV2Report, 'rotated' | 'failures'>[];
}

/**
 * Re-wraps each snapshot's data key for `sealWith` (the current key set),
 * opening it with the first of `openWith` that fits (current secrets, an
 * identity, old secrets). A snapshot that nothing opens is reported, not fatal.
 */
export async function rotateKeys(
  snapshots: { storage: Storage; info: SnapshotInfo }[],
  openWith: Encryption[],
  sealWith: Encryption,
  options: { dryRun?: boolean; signal?: AbortSignal } = {},
): Promise<RotateReport> {
  if (sealWith.mode === 'none') throw new FailsafeError('E_USAGE', 'keys rotate needs keys in the configuration (encryption is none)');
  const report: RotateReport = { rotated: [], failures: [] };
  for (const { storage, info } of snapshots) {
    const where = { id: info.id, job: info.job, target: storage.targetName };
    try {
      const repository = new Repository(storage);
      const what = repository.manifestLabel(info.job, info.id);
      const bytes = await repository.readManifest(info.job, info.id, options.signal ? { signal: options.signal } : {});
      let dataKey: Uint8Array | undefined;
      // Authenticates the whole manifest with the unwrapped key before anything is written.
      await decodeManifest(bytes, what, async (header) => {
        const opened = openFirst(openWith, header);
        dataKey = opened.dataKey;
        return { sodium: opened.sodium, manifestKey: deriveSnapshotKeys(opened.sodium, opened.dataKey).manifestKey };
      });
      if (dataKey === undefined) throw new FailsafeError('E_USAGE', `${what} is not encrypted; there are no keys to rotate`);
      const { manifestKey: sealKey } = deriveSnapshotKeys(sealWith.sodium, dataKey);
      const resealed = resealManifest(bytes, what, sealWith.sodium, sealKey, sealWith.keyRing.seal(dataKey), sealWith.signer);
      // Proves the new object opens before it replaces the old one.
      await decodeManifest(resealed, what, async () => ({ sodium: sealWith.sodium, manifestKey: sealKey }));
      if (!options.dryRun) {
        await pauseForTest('rotate');
        await repository.writeManifest(info.job, info.id, resealed, options.signal ? { signal: options.signal } : {});
        await pauseForTest('rotate-written');
      }
      report.rotated.push(where);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const e = asFailsafeError(err);
      report.failures.push({ ...where, code: e.code, message: e.message });
    }
  }
  return report;
}

function openFirst(candidates: Encryption[], header: Parameters<typeof openDataKey>[1]): ReturnType<typeof openDataKey> {
  let first: unknown;
  for (const encryption of candidates) {
    try {
      return openDataKey(encryption, header);
    } catch (err) {
      if (!isFailsafeError(err, 'E_WRONG_KEY') && !isFailsafeError(err, 'E_KEY_MISSING')) throw err;
      first ??= err;
    }
  }
  throw first ?? new FailsafeError('E_KEY_MISSING', 'no key to open this snapshot with');
}
