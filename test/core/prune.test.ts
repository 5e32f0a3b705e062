/** Prune over real snapshots in memory and local stores, with dates set through a fake clock. */
import { mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { TEMP_PREFIX } from '../../core/fs/atomic.js';
import { prune, type PruneReport } from '../../core/maintenance/prune.js';
import { listSnapshots, resolveSnapshot } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { keys, snapshotsAt } from '../helpers/sources.js';

beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

const actions = (report: PruneReport, target: string): [string, string][] =>
  report.snapshots.filter((s) => s.target === target).map((s) => [s.createdAt.slice(0, 10), s.action]);

describe('prune', () => {
  it('applies the policy per target; a dry run changes nothing; removal takes the manifest and the segments', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    await snapshotsAt([a, b], ['2026-11-01T10:00:00Z', '2026-11-02T10:00:00Z', '2026-11-03T10:00:00Z', '2026-11-04T10:00:00Z']);
    const tasks = [
      { job: 'app', storage: a, policy: { keepLast: 2 } },
      { job: 'app', storage: b, policy: { keepLast: 1, keepDaily: 3 } },
    ];
    const before = await keys(a);
    const dry = await prune(tasks, { dryRun: true, now: new Date('2026-11-05T00:00:00Z') });
    expect(await keys(a)).toEqual(before);
    expect(actions(dry, 'a')).toEqual([
      ['2026-11-04', 'keep'],
      ['2026-11-03', 'keep'],
      ['2026-11-02', 'remove'],
      ['2026-11-01', 'remove'],
    ]);
    expect(dry.snapshots.find((s) => s.target === 'b' && s.createdAt.startsWith('2026-11-04'))!.reasons).toEqual(['last 1/1', 'daily 2026-11-04']);

    const real = await prune(tasks, { now: new Date('2026-11-05T00:00:00Z') });
    expect(real.snapshots).toEqual(dry.snapshots);
    expect((await listSnapshots(a)).map((s) => s.createdAt.slice(0, 10))).toEqual(['2026-11-04', '2026-11-03']);
    expect((await listSnapshots(b)).map((s) => s.createdAt.slice(0, 10))).toEqual(['2026-11-04', '2026-11-03', '2026-11-02']);
    // Nothing of a removed snapshot is left: every data object belongs to a kept manifest.
    const kept = new Set((await listSnapshots(a)).map((s) => s.id));
    expect((await keys(a)).filter((k) => k.startsWith('data/')).every((k) => kept.has(k.split('/')[2]!))).toBe(true);
  });

  it('never removes the last snapshot of a job, even when every rule has expired it', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z']);
    const report = await prune([{ job: 'app', storage: a, policy: { keepDays: 7 } }], { now: new Date('2026-06-01T00:00:00Z') });
    expect(report.snapshots.map((s) => [s.action, s.reasons])).toEqual([
      ['keep', ['last snapshot of the job']],
      ['remove', []],
    ]);
    expect(await listSnapshots(a)).toHaveLength(1);
  });

  it('keeps pre-restore safety snapshots by the same rules in their own group, and `latest` skips them', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const [, regular] = await snapshotsAt([a], ['2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z']);
    const [, safety] = await snapshotsAt([a], ['2026-11-03T00:00:00Z', '2026-11-04T00:00:00Z'], 'app', ['pre-restore']);
    expect((await resolveSnapshot(a, 'latest', 'app')).id).toBe(regular);
    const report = await prune([{ job: 'app', storage: a, policy: { keepLast: 1 } }], { now: new Date('2026-11-05T00:00:00Z') });
    expect(actions(report, 'a')).toEqual([
      ['2026-11-04', 'keep'],
      ['2026-11-03', 'remove'],
      ['2026-11-02', 'keep'],
      ['2026-11-01', 'remove'],
    ]);
    expect((await listSnapshots(a)).map((s) => s.id)).toEqual([safety, regular]);
    expect((await resolveSnapshot(a, 'latest', 'app')).id).toBe(regular);
  });

  it('says so when a job has only safety snapshots', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-11-03T00:00:00Z'], 'app', ['pre-restore']);
    await expect(resolveSnapshot(a, 'latest', 'app')).rejects.toThrow(/only 1 pre-restore safety snapshot: restore one by its id/);
  });

  it('keeps a snapshot under a retention lock', async () => {
    const until = new Date('2027-01-01T00:00:00Z');
    class LockingAdapter extends MemoryAdapter {
      locked = new Set<string>();
      async lockedUntil(key: string): Promise<Date | undefined> {
        return this.locked.has(key) ? until : undefined;
      }
    }
    const adapter = new LockingAdapter();
    const a = new Storage(adapter, 'a');
    const [oldest] = await snapshotsAt([a], ['2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z', '2026-03-03T00:00:00Z']);
    adapter.locked.add(`manifests/app/${oldest}`);
    const report = await prune([{ job: 'app', storage: a, policy: { keepLast: 1 } }], { now: new Date('2026-03-04T00:00:00Z') });
    expect(report.snapshots.map((s) => [s.action, s.reasons])).toEqual([
      ['keep', ['last 1/1']],
      ['remove', []],
      ['keep', ['locked until 2027-01-01T00:00:00.000Z']],
    ]);
    expect((await listSnapshots(a)).map((s) => s.id)).toContain(oldest);
  });

  it('removes segments without a manifest once older than the grace period, and stale temp files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-prune-'));
    const local = new Storage(new LocalAdapter({ path: root }), 'disk');
    await snapshotsAt([local], ['2026-05-01T00:00:00Z']);
    vi.useRealTimers();
    await local.put('data/app/20260501T000000Z-dead00/00000000', Buffer.alloc(10));
    await local.put('data/app/20260501T000000Z-dead00/00000001', Buffer.alloc(5));
    await local.put('data/app/20260502T000000Z-live00/00000000', Buffer.alloc(7));
    const old = new Date(Date.now() - 3 * 86_400_000);
    for (const i of ['00000000', '00000001']) await utimes(join(root, 'data/app/20260501T000000Z-dead00', i), old, old);
    await writeFile(join(root, 'data', 'app', `${TEMP_PREFIX}00000009-abc`), 'half');
    await utimes(join(root, 'data', 'app', `${TEMP_PREFIX}00000009-abc`), old, old);

    const task = { job: 'app', storage: local, policy: {} };
    const dry = await prune([task], { dryRun: true });
    expect(dry.orphans).toEqual([{ target: 'disk', job: 'app', id: '20260501T000000Z-dead00', objects: 2, bytes: 15 }]);
    const report = await prune([task]);
    expect(report.orphans).toEqual(dry.orphans);
    expect(report.tempRemoved).toEqual({ disk: 1 });
    expect(report.snapshots.map((s) => s.reasons)).toEqual([['no retention policy']]);
    const left = await keys(local);
    expect(left.filter((k) => k.includes('dead00'))).toEqual([]);
    expect(left).toContain('data/app/20260502T000000Z-live00/00000000');
    expect((await readdir(join(root, 'data', 'app'))).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  it('an unreachable target is reported and the others are still pruned', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z']);
    class Unreachable extends MemoryAdapter {
      // eslint-disable-next-line require-yield
      override async *list(): AsyncIterable<never> {
        throw Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' });
      }
    }
    const usb = new Storage(new Unreachable(), 'usb');
    const report = await prune([
      { job: 'app', storage: usb, policy: { keepLast: 1 } },
      { job: 'app', storage: a, policy: { keepLast: 1 } },
    ]);
    expect(report.errors).toEqual([expect.objectContaining({ target: 'usb', job: 'app', code: 'E_STORAGE' })]);
    expect(await listSnapshots(a)).toHaveLength(1);
  });
});
