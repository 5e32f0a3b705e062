/**
 * One `failsafe daemon` per configuration: two would run every schedule
 * twice, each job's second run failing on its job lock, and overwrite each
 * other's record of last runs. The daemon holds `<stateFile>.lock` — its
 * pid, host, boot and start time — while it runs.
 *
 * The file appears whole or not at all (written under a temp name, then
 * hard-linked to the lock's name, which fails when it exists). A lock is
 * stale, and taken over with a warning, when its process no longer runs on
 * this host or the host has rebooted since (its pid may be another
 * program's now). A lock of another host (a configuration on a shared
 * folder) cannot be checked from here and is respected.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { errnoOf, FailsafeError } from '../errors.js';
import { processAlive } from '../repository/locks.js';

interface DaemonLockRecord {
  pid: number;
  host: string;
  boot: string;
  startedAt: string;
}

export interface HeldDaemonLock {
  readonly path: string;
  release(): Promise<void>;
}

const ATTEMPTS = 5;

/** Linux's id of this boot; empty elsewhere (a reboot then goes unnoticed, the pid check still holds). */
async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

async function readRecord(path: string): Promise<DaemonLockRecord | undefined> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as Partial<DaemonLockRecord>;
    if (typeof record.pid === 'number' && typeof record.host === 'string') return { boot: '', startedAt: '?', ...record } as DaemonLockRecord;
  } catch {
    // unreadable: treated as stale below
  }
  return { pid: 0, host: hostname(), boot: '', startedAt: '?' };
}

/** Why `record` no longer holds the lock, or undefined while its daemon may still run. */
function staleness(record: DaemonLockRecord, boot: string): string | undefined {
  if (record.host !== hostname()) return undefined;
  if (record.boot && boot && record.boot !== boot) return `pid ${record.pid} ran before this host restarted`;
  if (record.pid <= 0) return 'it is unreadable';
  return processAlive(record.pid) ? undefined : `pid ${record.pid} no longer runs`;
}

/** Takes the lock at `path` or rejects with E_LOCKED naming the daemon that holds it. */
export async function acquireDaemonLock(path: string, warn: (message: string) => void = () => undefined): Promise<HeldDaemonLock> {
  const boot = await bootId();
  const mine: DaemonLockRecord = { pid: process.pid, host: hostname(), boot, startedAt: new Date().toISOString() };
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await link(temp, path);
        return { path, release: () => releaseIfMine(path) };
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
      const held = await readRecord(path);
      if (!held) continue;
      const stale = staleness(held, boot);
      if (!stale) {
        throw new FailsafeError(
          'E_LOCKED',
          `another failsafe daemon runs on this configuration (pid ${held.pid} on ${held.host}, since ${held.startedAt}); stop it first, or remove ${path} if it is gone`,
        );
      }
      await takeOver(path, held, () => warn(`took over the daemon lock ${path}: ${stale}`));
    }
    throw new FailsafeError('E_LOCKED', `could not take the daemon lock ${path}: other daemons keep taking it`);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Moves the stale lock `held` out of the way. Renamed, then read: when two daemons take over together the second
 * rename may catch the first one's fresh lock, which is then put back (a link, which never replaces) before trying again.
 */
async function takeOver(path: string, held: DaemonLockRecord, tookOver: () => void): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  if (
    !(await rename(path, aside).then(
      () => true,
      () => false,
    ))
  )
    return;
  const moved = await readRecord(aside);
  if (moved && (moved.pid !== held.pid || moved.startedAt !== held.startedAt)) await link(aside, path).catch(() => undefined);
  else tookOver();
  await rm(aside, { force: true });
}

async function releaseIfMine(path: string): Promise<void> {
  const held = await readRecord(path).catch(() => undefined);
  if (held?.pid === process.pid && held.host === hostname()) await rm(path, { force: true });
}
