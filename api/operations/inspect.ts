/** Reading a deployment's snapshots: list, verify, and re-wrapping their keys. */
import type { Encryption, EncryptionSettings } from '../../core/crypto/encryption.js';
import { asFailsafeError, isFailsafeError } from '../../core/errors.js';
import type { RotateReport } from '../../core/maintenance/rotate.js';
import type { Repository } from '../../core/repository/repository.js';
import type { Rollback } from '../../core/repository/rollback.js';
import type { Storage } from '../../core/repository/storage.js';
import type { SnapshotInfo, UnreadableManifest } from '../../core/repository/snapshots.js';
import type { VerifyProblem, VerifyReport } from '../../core/restore/verify.js';
import { pickDefined } from '../../core/util/defined.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';
import { watchRollback } from './rollback.js';
import { isDeduplicating, rotateDeduplicated } from './rotate-v2.js';
import { selectRepositories } from './select.js';
import { compareText } from '../../core/util/order.js';

/** Snapshot objects `list` reads whole at the same time, to check their signatures. */
const SIGNATURES_AT_ONCE = 8;

export type ListOptions = SelectOptions & {
  warn?: (message: string) => void;
  unreadable?: (manifest: UnreadableManifest) => void;
  /** Told of each job and target whose newest trusted snapshot is older than one this host saw there before. */
  rollback?: (rollback: Rollback) => void;
  signal?: AbortSignal;
};
/** With `readData`: the file bytes of the snapshot being verified read and checked so far. */
export interface VerifyProgress {
  id: string;
  job: string;
  target: string;
  bytes: number;
  totalBytes: number;
}

export type VerifyOptions = SelectOptions & { all?: boolean; readData?: boolean; signal?: AbortSignal; onProgress?: (progress: VerifyProgress) => void };
export type RotateOptions = SelectOptions & { previous?: Omit<EncryptionSettings, 'mode' | 'recipients'>; dryRun?: boolean; signal?: AbortSignal };

export async function list(deployment: Deployment, options: ListOptions): Promise<SnapshotInfo[]> {
  const all: SnapshotInfo[] = [];
  const trust = await deployment.trustPolicy();
  for (const repository of selectRepositories(deployment, options)) {
    options.signal?.throwIfAborted();
    const { job, warn, unreadable } = options;
    const listed = await repository.listSnapshots({ ...(job ? { job } : {}), ...(warn ? { warn } : {}), ...(unreadable ? { unreadable } : {}) });
    if (trust) await markSignatures(repository.storage, listed, trust.keys);
    await markRollbacks(deployment, repository.storage, listed, options);
    all.push(...listed);
  }
  return all.sort((a, b) => compareText(b.createdAt, a.createdAt));
}

/** Reads each snapshot's whole object to check its signature: a header only claims one. A few at a time, as headers are listed. */
async function markSignatures(storage: Storage, listed: SnapshotInfo[], keys: Uint8Array[]): Promise<void> {
  const { signatureState } = await import('../../core/repository/signature-state.js');
  for (let i = 0; i < listed.length; i += SIGNATURES_AT_ONCE) {
    await Promise.all(listed.slice(i, i + SIGNATURES_AT_ONCE).map(async (s) => void (s.signature = await signatureState(storage, s, keys))));
  }
}

/** The jobs listed in this target, and those the YAML sends there (all of whose snapshots may be gone), each checked against what this host saw. */
async function markRollbacks(deployment: Deployment, storage: Storage, listed: SnapshotInfo[], options: ListOptions): Promise<void> {
  const configured = deployment.jobNames().filter((name) => deployment.job(name).targets.includes(storage.targetName));
  const jobs = options.job ? [options.job] : [...new Set([...listed.map((s) => s.job), ...configured])];
  const trusted = (s: SnapshotInfo): boolean | undefined => (s.signature === undefined ? undefined : s.signature === 'trusted');
  for (const job of jobs) {
    const rollback = await watchRollback(deployment, storage, job, { listed: listed.filter((s) => s.job === job), trusted });
    if (!rollback) continue;
    options.rollback?.(rollback);
    const newest = rollback.newest && listed.find((s) => s.job === job && s.id === rollback.newest!.id);
    if (newest) newest.wentBackwards = { seenId: rollback.seen.id, seenCreatedAt: rollback.seen.createdAt };
  }
}

/**
 * `all`, one reference, or each selected job's latest snapshot in this target. A job without one is a problem of
 * its own (`<job>/latest`): reported beside the others, which are verified all the same. With `all`, a manifest that
 * cannot even be listed is a failure of its own (`unreadable`), not a snapshot passed over.
 */
async function chooseSnapshots(
  deployment: Deployment,
  repository: Repository,
  ref: string | undefined,
  options: VerifyOptions,
  unreadable: (manifest: UnreadableManifest) => void,
): Promise<{ chosen: SnapshotInfo[]; missing: VerifyProblem[] }> {
  if (options.all) return { chosen: await repository.listSnapshots({ ...(options.job ? { job: options.job } : {}), unreadable }), missing: [] };
  if (ref !== undefined && ref !== 'latest') return { chosen: [await repository.resolveSnapshot(ref, options.job)], missing: [] };
  const chosen: SnapshotInfo[] = [];
  const missing: VerifyProblem[] = [];
  const trust = await deployment.trustPolicy();
  for (const job of options.job ? [options.job] : deployment.jobNames()) {
    if (!deployment.job(job).targets.includes(repository.targetName)) continue;
    try {
      chosen.push(await repository.resolveSnapshot('latest', job, trust ? { trust } : {}));
    } catch (err) {
      if (!isFailsafeError(err, 'E_SNAPSHOT_NOT_FOUND')) throw err;
      missing.push({ id: 'latest', job, target: repository.targetName, code: err.code, message: err.message });
    }
  }
  return { chosen, missing };
}

export async function verify(deployment: Deployment, ref: string | undefined, options: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, checked: 0, errors: [] };
  const encryption = await deployment.encryption('open');
  for (const repository of selectRepositories(deployment, options)) {
    const unreadable = ({ job, id, key, error }: UnreadableManifest): void =>
      void report.errors.push({ id, job, target: repository.targetName, object: key, code: error.code, message: error.message });
    const { chosen, missing } = await chooseSnapshots(deployment, repository, ref, options, unreadable);
    report.errors.push(...missing);
    for (const info of chosen) {
      try {
        const one = await verifyOne(deployment, repository, info, encryption, options);
        report.checked += one.checked;
        report.errors.push(...one.errors);
        if (one.headerOnly) report.headerOnly = (report.headerOnly ?? 0) + one.headerOnly;
      } catch (err) {
        const e = asFailsafeError(err);
        report.errors.push({ id: info.id, job: info.job, target: repository.targetName, code: e.code, message: e.message });
      }
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}

/** Docs promise that only reading the data needs the private key: without one, plain verify checks what the public header promises. */
async function verifyOne(
  deployment: Deployment,
  repository: Repository,
  info: SnapshotInfo,
  encryption: Encryption,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const { verifySnapshot, verifyByHeader } = await import('../../core/restore/verify.js');
  if (!options.readData && encryption.mode === 'keys' && !encryption.keyRing.opensAny()) {
    const header = await repository.readManifestHeader(info.job, info.id);
    if (header.encryption.cipher !== 'none') return verifyByHeader(repository, header, pickDefined({ signal: options.signal }));
  }
  const stages = deployment.config.jobs[info.job] ? deployment.catalog(info.job) : undefined;
  const snapshot = await repository.openSnapshot(info.job, info.id, encryption, stages);
  const { onProgress, ...rest } = options;
  const base = { id: info.id, job: info.job, target: repository.targetName };
  const progress = onProgress ? { onProgress: (bytes: number, totalBytes: number) => onProgress({ ...base, bytes, totalBytes }) } : {};
  return verifySnapshot(snapshot, { ...rest, ...progress, parallelism: deployment.config.parallelism ?? 2 });
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
  const deduplicating: Repository[] = [];
  for (const repository of selectRepositories(deployment, options)) {
    if (await isDeduplicating(repository, options.signal)) deduplicating.push(repository);
    for (const info of await repository.listSnapshots(options.job ? { job: options.job } : {})) {
      // Format 2 snapshot objects move with their repository, below.
      if (info.format !== 2) snapshots.push({ storage: repository.storage, info });
    }
  }
  const { rotateKeys: rotate } = await import('../../core/maintenance/rotate.js');
  const report = await rotate(snapshots, openWith, current, pickDefined({ dryRun: options.dryRun === true || undefined, signal: options.signal }));
  for (const repository of deduplicating) await rotateDeduplicated(deployment, repository, openWith, options, report);
  return report;
}
