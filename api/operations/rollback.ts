/**
 * Noticing a target that went backwards (core/repository/rollback.ts): each
 * command that looks at a job's snapshots in a target compares the newest
 * trusted one with what this host saw there before, and moves its record
 * forwards. The record lives beside the configuration, with the files cache.
 */
import { basename, join } from 'node:path';
import type { TrustPolicy } from '../../core/crypto/signing.js';
import { FailsafeError, isFailsafeError } from '../../core/errors.js';
import { describeRollback, detectRollback, SeenSnapshots, type Rollback } from '../../core/repository/rollback.js';
import { newestTrusted } from '../../core/repository/signature-state.js';
import { listSnapshots, type SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Storage } from '../../core/repository/storage.js';
import { manifestKey } from '../../core/repository/layout.js';
import { snapshotKeyV2 } from '../../core/dedup/snapshot.js';
import type { Deployment } from '../container.js';

/** One record per configuration file: two in one folder may trust different keys, so they must not share what they saw. */
export function seenSnapshots(deployment: Deployment): SeenSnapshots {
  return new SeenSnapshots(join(deployment.stateDir, 'seen-snapshots', `${basename(deployment.loaded.file)}.json`));
}

/**
 * The record holds only what a trusted key signed, even under
 * --allow-unsigned: a forged snapshot recorded, then deleted, would raise a
 * false alarm.
 */
async function strictTrust(deployment: Deployment): Promise<TrustPolicy | undefined> {
  const trust = await deployment.trustPolicy();
  return trust && { keys: trust.keys, allowUnsigned: false };
}

/**
 * Checks one job in one target against the record and moves it forwards.
 * `listed` is the job's snapshots there, newest first (listed now when not
 * given); `trusted` answers from signatures already checked.
 */
export async function watchRollback(
  deployment: Deployment,
  storage: Storage,
  job: string,
  options: { listed?: SnapshotInfo[]; trusted?: (s: SnapshotInfo) => boolean | undefined } = {},
): Promise<Rollback | undefined> {
  const listed = options.listed ?? (await listSnapshots(storage, { job }));
  const now = deployment.clock.now();
  const trust = await strictTrust(deployment);
  const newest = await newestTrusted(storage, listed, { now, trust, ...(options.trusted ? { trusted: options.trusted } : {}) });
  const seen = seenSnapshots(deployment);
  const rollback = detectRollback({ target: storage.targetName, job }, await seen.get(storage.targetName, job), newest, new Set(listed.map((s) => s.id)));
  // A cache: failing to write it costs a detection, never the command.
  if (!rollback && newest) await seen.record(storage.targetName, job, newest, now).catch(() => undefined);
  return rollback;
}

/** Like watchRollback, but an unreachable target or a damaged listing is left to the command to report. */
export async function warnOfRollback(deployment: Deployment, storage: Storage, job: string, warn: (message: string) => void): Promise<void> {
  try {
    const rollback = await watchRollback(deployment, storage, job);
    if (rollback) warn(describeRollback(rollback));
  } catch (err) {
    if (!isFailsafeError(err)) throw err;
  }
}

/**
 * Before a backup: cheap while the snapshot this host saw last is still
 * there (one or two HEAD requests); the job's snapshots are listed only when
 * it is gone.
 */
export async function warnIfSeenGone(deployment: Deployment, storage: Storage, job: string, warn: (message: string) => void): Promise<void> {
  const seen = await seenSnapshots(deployment).get(storage.targetName, job);
  if (!seen) return;
  try {
    if ((await storage.head(manifestKey(job, seen.id))) || (await storage.head(snapshotKeyV2(job, seen.id)))) return;
  } catch (err) {
    if (!isFailsafeError(err)) throw err;
    return; // an unreachable target is the backup's to report
  }
  await warnOfRollback(deployment, storage, job, warn);
}

/** `restore latest` and drills: refused when `latest` went backwards, unless the caller accepts it. */
export async function refuseRollback(deployment: Deployment, storage: Storage, job: string, allow: boolean, warn?: (message: string) => void): Promise<void> {
  const rollback = await watchRollback(deployment, storage, job);
  if (!rollback) return;
  if (allow) return void warn?.(describeRollback(rollback));
  throw new FailsafeError(
    'E_ROLLBACK',
    `"latest" went backwards: ${describeRollback(rollback)}. Restore a snapshot by its id, or pass --allow-rollback to restore the newest one there now`,
  );
}

/** After a backup: its own snapshots are the newest this host has seen (when it trusts its own signing key). */
export async function recordOwnSnapshots(
  deployment: Deployment,
  job: string,
  snapshots: { id: string; target: string; createdAt: string }[],
  signer: Uint8Array | undefined,
): Promise<void> {
  const trust = await deployment.trustPolicy();
  if (trust && !(signer && trust.keys.some((k) => Buffer.from(k).equals(Buffer.from(signer))))) return;
  const seen = seenSnapshots(deployment);
  for (const s of snapshots) await seen.record(s.target, job, s, deployment.clock.now()).catch(() => undefined);
}
