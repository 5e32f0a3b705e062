/** Reading a deployment's snapshots: list, verify, and re-wrapping their keys. */
import type { EncryptionSettings } from '../../core/crypto/encryption.js';
import { asFailsafeError } from '../../core/errors.js';
import type { RotateReport } from '../../core/maintenance/rotate.js';
import { listSnapshots, openSnapshot, resolveSnapshot, type SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Storage } from '../../core/repository/storage.js';
import type { VerifyReport } from '../../core/restore/verify.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';
import { selectTargets } from './select.js';

export type ListOptions = SelectOptions & { warn?: (message: string) => void; signal?: AbortSignal };
export type VerifyOptions = SelectOptions & { all?: boolean; readData?: boolean; signal?: AbortSignal };
export type RotateOptions = SelectOptions & { previous?: Omit<EncryptionSettings, 'mode' | 'recipients'>; dryRun?: boolean; signal?: AbortSignal };

export async function list(deployment: Deployment, options: ListOptions): Promise<SnapshotInfo[]> {
  const all: SnapshotInfo[] = [];
  for (const storage of selectTargets(deployment, options)) {
    options.signal?.throwIfAborted();
    all.push(...(await listSnapshots(storage, { ...(options.job ? { job: options.job } : {}), ...(options.warn ? { warn: options.warn } : {}) })));
  }
  return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** `all`, one reference, or each selected job's latest snapshot in this target. */
async function chooseSnapshots(deployment: Deployment, storage: Storage, ref: string | undefined, options: VerifyOptions): Promise<SnapshotInfo[]> {
  if (options.all) return listSnapshots(storage, options.job ? { job: options.job } : {});
  if (ref !== undefined && ref !== 'latest') return [await resolveSnapshot(storage, ref, options.job)];
  const chosen: SnapshotInfo[] = [];
  for (const job of options.job ? [options.job] : deployment.jobNames()) {
    if (deployment.job(job).targets.includes(storage.targetName)) chosen.push(await resolveSnapshot(storage, 'latest', job));
  }
  return chosen;
}

export async function verify(deployment: Deployment, ref: string | undefined, options: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, checked: 0, errors: [] };
  const encryption = await deployment.encryption('open');
  const { verifySnapshot } = await import('../../core/restore/verify.js');
  for (const storage of selectTargets(deployment, options)) {
    for (const info of await chooseSnapshots(deployment, storage, ref, options)) {
      try {
        const stages = deployment.config.jobs[info.job] ? deployment.catalog(info.job) : undefined;
        const snapshot = await openSnapshot(storage, info.job, info.id, encryption, stages);
        const one = await verifySnapshot(snapshot, { ...options, parallelism: deployment.config.parallelism ?? 2 });
        report.checked += one.checked;
        report.errors.push(...one.errors);
      } catch (err) {
        const e = asFailsafeError(err);
        report.errors.push({ id: info.id, job: info.job, target: storage.targetName, code: e.code, message: e.message });
      }
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}

export async function rotateKeys(deployment: Deployment, options: RotateOptions): Promise<RotateReport> {
  const current = await deployment.encryption('seal');
  const openWith = [await deployment.encryption('open')];
  const { previous } = options;
  if (previous && (previous.passphrase !== undefined || previous.keyFile !== undefined)) {
    const { createEncryption } = await import('../../core/crypto/encryption.js');
    openWith.push(await createEncryption({ mode: 'keys', ...previous }, deployment.keys.identity));
  }
  const snapshots = [];
  for (const storage of selectTargets(deployment, options)) {
    for (const info of await listSnapshots(storage, options.job ? { job: options.job } : {})) snapshots.push({ storage, info });
  }
  const { rotateKeys: rotate } = await import('../../core/maintenance/rotate.js');
  return rotate(snapshots, openWith, current, { ...(options.dryRun ? { dryRun: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
}
