/** One daemon per configuration: `<stateFile>.lock` with its pid; a stale lock (dead pid, earlier boot) is taken over. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDaemonLock } from '../../core/automation/daemon-lock.js';
import { FailsafeError } from '../../core/errors.js';

async function lockPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'failsafe-daemon-lock-')), '.failsafe-state.json.lock');
}

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('the daemon lock', () => {
  it('is held with this pid, refuses a second daemon naming the first, and is removed on release', async () => {
    const path = await lockPath();
    const lock = await acquireDaemonLock(path);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    const second = acquireDaemonLock(path);
    await expect(second).rejects.toThrow(FailsafeError);
    await expect(second).rejects.toMatchObject({ code: 'E_LOCKED', message: expect.stringContaining(`pid ${process.pid} on ${hostname()}`) });
    await lock.release();
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    await (await acquireDaemonLock(path)).release();
  });

  it('takes over the lock of a daemon that no longer runs, with a warning', async () => {
    const path = await lockPath();
    const pid = deadPid();
    await writeFile(path, JSON.stringify({ pid, host: hostname(), boot: '', startedAt: '2026-01-01T00:00:00.000Z' }));
    const warnings: string[] = [];
    const lock = await acquireDaemonLock(path, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`took over .*pid ${pid} no longer runs`))]);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it.runIf(process.platform === 'linux')('takes over a lock written before the host restarted, though its pid runs now', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: process.ppid, host: hostname(), boot: 'an-earlier-boot', startedAt: '2026-01-01T00:00:00.000Z' }));
    const warnings: string[] = [];
    await (await acquireDaemonLock(path, (m) => warnings.push(m))).release();
    expect(warnings).toEqual([expect.stringMatching(/ran before this host restarted/)]);
  });

  it("respects another host's lock: it cannot be checked from here", async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: 'another-host', boot: 'x', startedAt: '2026-01-01T00:00:00.000Z' }));
    await expect(acquireDaemonLock(path)).rejects.toMatchObject({ code: 'E_LOCKED', message: expect.stringContaining('on another-host') });
  });

  it('of two daemons taking over a stale lock together, exactly one gets it', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: hostname(), boot: '', startedAt: '2026-01-01T00:00:00.000Z' }));
    const results = await Promise.allSettled([acquireDaemonLock(path), acquireDaemonLock(path)]);
    // Both run in this process, so the loser sees the winner's pid alive and is refused.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([expect.objectContaining({ reason: expect.objectContaining({ code: 'E_LOCKED' }) })]);
  });
});
