/**
 * Lease locks: one writer per job and target. Each holder writes its own
 * lock object `locks/<job>/<owner>.json` (host, pid, start, heartbeat) and
 * renews the heartbeat while it works; then it lists the job's locks and, if
 * another live lock is there, withdraws and retries. A lock whose process is
 * dead on this host, or whose heartbeat is older than its lease, is stale:
 * it is removed with a warning, so a crashed backup never blocks the next.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, FailsafeError } from '../errors.js';
import { pauseForTest } from '../testing/test-hooks.js';
import type { Storage } from './storage.js';

export const LOCKS_PREFIX = 'locks/';
/** Without a heartbeat for this long a lock is stale, even from another host. */
export const DEFAULT_LEASE_MS = 2 * 60 * 1000;

export interface LockRecord {
  job: string;
  owner: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeat: string;
  leaseMs: number;
}

export interface LockOptions {
  leaseMs?: number;
  warn?: (message: string) => void;
  /** Keep trying this long while another live lock holds the job (default: about a second, to settle simultaneous starts). */
  waitMs?: number;
}

export interface HeldLock {
  readonly owner: string;
  release(): Promise<void>;
}

export interface FoundLock {
  target: string;
  key: string;
  record?: LockRecord;
  stale: boolean;
  reason: string;
}

function lockPrefix(job: string): string {
  return `${LOCKS_PREFIX}${job}/`;
}

/** Takes the job's lock in every target, or throws E_LOCKED naming the holder. */
export async function acquireJobLock(targets: Storage[], job: string, options: LockOptions = {}): Promise<HeldLock> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const host = hostname();
  const owner = `${host.replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const key = `${lockPrefix(job)}${owner}.json`;
  const startedAt = new Date().toISOString();
  // A target that cannot take the lock is left to the backup to drop (as any failing target); none at all is an error.
  const write = async (): Promise<Storage[]> => {
    const record: LockRecord = { job, owner, host, pid: process.pid, startedAt, heartbeat: new Date().toISOString(), leaseMs };
    const results = await Promise.allSettled(targets.map((t) => t.put(key, Buffer.from(JSON.stringify(record)))));
    const locked = targets.filter((_, i) => results[i]!.status === 'fulfilled');
    if (locked.length === 0) throw (results[0] as PromiseRejectedResult).reason;
    return locked;
  };
  const withdraw = (): Promise<unknown> => Promise.allSettled(targets.map((t) => t.delete(key)));
  const deadline = Date.now() + (options.waitMs ?? 1000);

  for (;;) {
    const locked = await write();
    await pauseForTest('lock-written');
    let holder: FoundLock | undefined;
    for (const target of locked) {
      for (const found of await findLocks(target, job)) {
        if (found.key === key) continue;
        if (found.stale) {
          options.warn?.(`took over a stale lock of job ${job} in ${found.target}: ${found.reason}`);
          await target.delete(found.key);
          await pauseForTest('lock-stale-removed');
        } else holder ??= found;
      }
    }
    if (!holder) {
      await pauseForTest('lock-taken');
      break;
    }
    await withdraw();
    if (Date.now() >= deadline) {
      throw new FailsafeError(
        'E_LOCKED',
        `job ${job} is locked in ${holder.target} by ${holder.reason}; if that backup is gone, wait ${Math.round(leaseMs / 1000)} s or run: failsafe unlock --job ${job}`,
      );
    }
    // Random back-off, so two runs that started together do not keep colliding.
    await sleep(100 + Math.random() * 300);
  }

  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = write().catch((err: unknown) => options.warn?.(`could not renew the lock of job ${job}: ${err instanceof Error ? err.message : String(err)}`));
    },
    Math.max(50, Math.floor(leaseMs / 4)),
  );
  timer.unref();
  return {
    owner,
    async release(): Promise<void> {
      clearInterval(timer);
      await renewing;
      await withdraw();
    },
  };
}

/** The job's (or every job's) lock objects in a target, each judged stale or live. */
export async function findLocks(target: Storage, job?: string): Promise<FoundLock[]> {
  const out: FoundLock[] = [];
  for await (const object of target.list(job ? lockPrefix(job) : LOCKS_PREFIX)) {
    let record: LockRecord | undefined;
    try {
      record = JSON.parse((await target.getBuffer(object.key)).toString('utf8')) as LockRecord;
    } catch (err) {
      if (err instanceof FailsafeError && err.code === 'E_NOT_FOUND') continue; // released meanwhile
    }
    out.push({ target: target.targetName, key: object.key, ...judge(record, object.modified) });
  }
  return out;
}

function judge(record: LockRecord | undefined, modified: Date | undefined): { record?: LockRecord; stale: boolean; reason: string } {
  if (!record || typeof record.pid !== 'number' || typeof record.heartbeat !== 'string') {
    const age = modified ? Date.now() - modified.getTime() : Number.POSITIVE_INFINITY;
    return { stale: age > DEFAULT_LEASE_MS, reason: 'an unreadable lock object' };
  }
  const who = `${record.host} pid ${record.pid} (started ${record.startedAt})`;
  if (record.host === hostname() && !processAlive(record.pid)) return { record, stale: true, reason: `${who}, which is no longer running` };
  const silentMs = Date.now() - Date.parse(record.heartbeat);
  if (!(silentMs <= record.leaseMs)) return { record, stale: true, reason: `${who}, silent for ${Math.round(silentMs / 1000)} s` };
  return { record, stale: false, reason: who };
}

/** Whether `pid` runs on this host (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/** Removes stale locks (or, with `all`, every lock) of a job or of all jobs; resolves with what it removed. */
export async function removeLocks(target: Storage, options: { job?: string; all?: boolean } = {}): Promise<FoundLock[]> {
  const removed: FoundLock[] = [];
  for (const found of await findLocks(target, options.job)) {
    if (!found.stale && !options.all) continue;
    await target.delete(found.key);
    removed.push(found);
  }
  return removed;
}
