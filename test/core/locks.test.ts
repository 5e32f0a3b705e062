import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { acquireJobLock, findLocks, removeLocks, type LockRecord } from '../../core/repository/locks.js';
import { Storage } from '../../core/repository/storage.js';
import { keys } from '../helpers/sources.js';

const deadPid = (): number =>
  spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout as unknown as number;

function lockOf(partial: Partial<LockRecord>): Buffer {
  const now = new Date().toISOString();
  return Buffer.from(JSON.stringify({ job: 'app', owner: 'x', host: 'elsewhere', pid: 1, startedAt: now, heartbeat: now, leaseMs: 60_000, ...partial }));
}

describe('job locks', () => {
  it('lets one holder in and refuses a second with E_LOCKED naming the holder, until released', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    const held = await acquireJobLock([a, b], 'app');
    expect(await keys(a)).toEqual([`locks/app/${held.owner}.json`]);
    const refused = acquireJobLock([a, b], 'app', { waitMs: 0 });
    await expect(refused).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringMatching(new RegExp(`locked in a by ${hostname()} pid ${process.pid}.*failsafe unlock --job app`)),
    });
    // The refused run withdrew its own lock objects.
    expect(await keys(b)).toEqual([`locks/app/${held.owner}.json`]);
    // Another job is not affected.
    await (await acquireJobLock([a, b], 'other')).release();
    await held.release();
    expect(await keys(a)).toEqual([]);
    await (await acquireJobLock([a, b], 'app')).release();
  });

  it('of two runs started at once, exactly one gets the lock', async () => {
    const target = new Storage(new MemoryAdapter(), 't');
    const results = await Promise.allSettled([acquireJobLock([target], 'app', { waitMs: 0 }), acquireJobLock([target], 'app', { waitMs: 2000 })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    // The second waits for up to two seconds; the first never does: one wins, and the loser, if any, fails clearly.
    expect(won.length).toBeGreaterThanOrEqual(1);
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    for (const r of lost) expect(r.reason).toMatchObject({ code: 'E_LOCKED' });
    expect((await findLocks(target, 'app')).length).toBe(1);
    for (const r of won) await (r as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });

  it('takes over, with a warning, a lock whose process died on this host or whose heartbeat expired', async () => {
    const target = new Storage(new MemoryAdapter(), 't');
    const pid = Number(deadPid());
    await target.put('locks/app/dead.json', lockOf({ host: hostname(), pid }));
    await target.put('locks/app/silent.json', lockOf({ host: 'elsewhere', heartbeat: new Date(Date.now() - 120_000).toISOString(), leaseMs: 60_000 }));
    const warnings: string[] = [];
    const held = await acquireJobLock([target], 'app', { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toMatch(new RegExp(`pid ${pid} .*no longer running`));
    expect(warnings.join('\n')).toMatch(/elsewhere pid 1 .*silent for 120 s/);
    expect(await keys(target)).toEqual([`locks/app/${held.owner}.json`]);
    await held.release();
  });

  it('respects a live lock of another host', async () => {
    const target = new Storage(new MemoryAdapter(), 't');
    await target.put('locks/app/remote.json', lockOf({ host: 'nas-2', pid: 4242 }));
    await expect(acquireJobLock([target], 'app', { waitMs: 0 })).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringContaining('nas-2 pid 4242'),
    });
  });

  it('renews its heartbeat while held, so a long backup never looks stale', async () => {
    const target = new Storage(new MemoryAdapter(), 't');
    const held = await acquireJobLock([target], 'app', { leaseMs: 200 });
    const first = (await findLocks(target, 'app'))[0]!.record!.heartbeat;
    await sleep(400);
    const [found] = await findLocks(target, 'app');
    expect(Date.parse(found!.record!.heartbeat)).toBeGreaterThan(Date.parse(first));
    expect(found!.stale).toBe(false);
    await held.release();
  });

  it('unlock removes stale locks, and with all every lock', async () => {
    const target = new Storage(new MemoryAdapter(), 't');
    await target.put('locks/app/dead.json', lockOf({ host: hostname(), pid: Number(deadPid()) }));
    await target.put('locks/app/live.json', lockOf({ host: 'nas-2' }));
    expect((await removeLocks(target)).map((l) => l.key)).toEqual(['locks/app/dead.json']);
    expect((await removeLocks(target, { job: 'app', all: true })).map((l) => l.key)).toEqual(['locks/app/live.json']);
    expect(await keys(target)).toEqual([]);
  });
});
