/**
 * `status --newest-only` (collectStatus's `newestOnly`): each job's newest
 * snapshot header alone, read from the newest name down. It must say what
 * the full report says of the newest snapshot and the health that follows
 * from it, also when that snapshot is damaged, dated in the future or a
 * restore's safety copy, while reading a few headers instead of all.
 */
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import type { StorageOptions } from '../../core/contracts.js';
import { manifestKey } from '../../core/repository/layout.js';
import { Storage } from '../../core/repository/storage.js';
import { collectStatus, type StatusReport } from '../../core/status/status.js';
import { snapshotsAt } from '../helpers/sources.js';

beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

const HOUR = 3_600_000;
const now = new Date('2026-11-22T05:00:00Z');

/** A memory store that counts the objects read. */
class Counting extends MemoryAdapter {
  reads = 0;
  override async get(key: string, options: StorageOptions & { range?: { start: number; end: number } } = {}): Promise<Readable> {
    this.reads += 1;
    return super.get(key, options);
  }
}

/** What both reports must agree on: the newest snapshot, its age and size, the health and its reasons, each target's count and newest. */
const gist = (r: StatusReport) =>
  r.jobs.map((j) => ({ ...j, targets: j.targets.map(({ target, snapshots, newest }) => ({ target, snapshots, newest })) })).concat();

async function both(storage: Storage, alertAfterMs = 30 * HOUR): Promise<[StatusReport, StatusReport]> {
  const job = { name: 'app', targets: [storage], alertAfterMs };
  return [await collectStatus([job], { now }), await collectStatus([job], { now, newestOnly: true })];
}

describe('status from the newest header alone', () => {
  it('says what the full report says of the newest snapshot, reading one header; counts from the listing, no stored bytes', async () => {
    const adapter = new Counting();
    const a = new Storage(adapter, 'a');
    await snapshotsAt([a], ['2026-11-19T02:00:00Z', '2026-11-20T02:00:00Z', '2026-11-21T02:00:00Z', '2026-11-22T02:00:00Z']);
    adapter.reads = 0;
    const newest = await collectStatus([{ name: 'app', targets: [a], alertAfterMs: 30 * HOUR }], { now, newestOnly: true });
    expect(adapter.reads).toBe(1);
    const full = await collectStatus([{ name: 'app', targets: [a], alertAfterMs: 30 * HOUR }], { now });
    expect(gist(newest)).toEqual(gist(full));
    expect(newest.jobs[0]).toMatchObject({ health: 'ok', lastSuccess: '2026-11-22T02:00:00.000Z', targets: [{ snapshots: 4, storedBytes: 0 }] });
    expect([newest.partial, full.partial]).toEqual([true, undefined]);
    expect(full.jobs[0]!.targets[0]!.storedBytes).toBeGreaterThan(0);
  });

  it('skips a damaged newest header as the full report does: a job whose last good backup is stale is critical in both', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const [, damaged] = await snapshotsAt([a], ['2026-11-20T02:00:00Z', '2026-11-22T04:00:00Z']);
    await a.put(manifestKey('app', damaged!), Buffer.from('not a manifest'));
    const [full, newest] = await both(a);
    // The one difference: the listing counts the damaged object, which the full report could not read.
    expect([newest.jobs[0]!.targets[0]!.snapshots, full.jobs[0]!.targets[0]!.snapshots]).toEqual([2, 1]);
    full.jobs[0]!.targets[0]!.snapshots = 2;
    expect(gist(newest)).toEqual(gist(full));
    expect(newest.jobs[0]).toMatchObject({ health: 'critical', lastSuccess: '2026-11-20T02:00:00.000Z' });
  });

  it('reads past a snapshot dated in the future (a warning in both) and a restore safety snapshot to the newest backup', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-11-22T01:00:00Z']);
    await snapshotsAt([a], ['2026-11-22T03:00:00Z'], 'app', ['pre-restore']);
    await snapshotsAt([a], ['2026-11-23T03:00:00Z']);
    const [full, newest] = await both(a);
    expect(gist(newest)).toEqual(gist(full));
    expect(newest.jobs[0]!.lastSuccess).toBe('2026-11-22T01:00:00.000Z');
    expect(newest.jobs[0]!.health).toBe('warning');
    expect(newest.jobs[0]!.problems[0]).toMatch(/dated in the future/);
  });
});
