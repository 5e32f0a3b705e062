/** Status and health from real snapshots in memory stores, dated through a fake clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { prometheusText } from '../../core/status/metrics.js';
import { collectStatus, formatAge } from '../../core/status/status.js';
import { Storage } from '../../core/repository/storage.js';
import { snapshotsAt } from '../helpers/sources.js';

beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

const HOUR = 3_600_000;

describe('collectStatus', () => {
  it('reports the newest snapshot, its age, sizes and counts per target; ok within alertAfter', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    await snapshotsAt([a, b], ['2026-11-20T02:00:00Z', '2026-11-21T02:00:00Z']);
    await snapshotsAt([a], ['2026-11-22T02:00:00Z']);
    const report = await collectStatus([{ name: 'app', targets: [a, b], alertAfterMs: 30 * HOUR }], { now: new Date('2026-11-22T05:00:00Z') });
    const job = report.jobs[0]!;
    expect(job.lastSuccess).toBe('2026-11-22T02:00:00.000Z');
    expect(job.ageSeconds).toBe(3 * 3600);
    expect(job.lastSize).toMatchObject({ bytes: 2000, files: 2 });
    expect(job.targets.map((t) => [t.target, t.snapshots, t.newest])).toEqual([
      ['a', 3, '2026-11-22T02:00:00.000Z'],
      ['b', 2, '2026-11-21T02:00:00.000Z'],
    ]);
    expect(job.targets[0]!.storedBytes).toBeGreaterThan(3 * 2000);
    expect([report.health, job.problems]).toEqual(['ok', []]);
  });

  it('critical past alertAfter or with no snapshot; warning for a lagging or unreadable target', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    await snapshotsAt([a, b], ['2026-11-18T02:00:00Z']);
    await snapshotsAt([a], ['2026-11-22T02:00:00Z']);
    const now = new Date('2026-11-22T06:00:00Z');
    const lagging = await collectStatus([{ name: 'app', targets: [a, b], alertAfterMs: 26 * HOUR }], { now });
    expect(lagging.health).toBe('warning');
    expect(lagging.jobs[0]!.problems).toEqual(['target b lags: its newest snapshot is from 2026-11-18T02:00:00.000Z']);

    const stale = await collectStatus([{ name: 'app', targets: [a], alertAfterMs: 2 * HOUR }], { now });
    expect(stale.health).toBe('critical');
    expect(stale.jobs[0]!.problems).toEqual(['no successful backup for 4h (alertAfter 2h)']);

    const empty = await collectStatus([{ name: 'other', targets: [a] }], { now });
    expect([empty.health, empty.jobs[0]!.problems]).toEqual(['critical', ['no snapshot yet']]);

    class Unreachable extends MemoryAdapter {
      // eslint-disable-next-line require-yield -- it fails at the first next(), as a listing whose connection is refused does
      override async *list(): AsyncIterable<never> {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      }
    }
    const down = new Storage(new Unreachable(), 'down');
    const partly = await collectStatus([{ name: 'app', targets: [a, down] }], { now });
    expect(partly.health).toBe('warning');
    expect(partly.jobs[0]!.targets[1]!.error?.code).toBe('E_STORAGE');
    const none = await collectStatus([{ name: 'app', targets: [down] }], { now });
    expect([none.health, none.jobs[0]!.problems]).toEqual(['critical', ['no target can be read']]);

    const waiting = await collectStatus([{ name: 'app', targets: [a] }], {
      now,
      unfinished: [{ operationId: 'backup-app', name: 'backup', state: 'running', progress: 0.4 }],
    });
    expect(waiting.health).toBe('warning');
  });

  it("warns when the daemon's last run failed after the newest snapshot", async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-11-21T02:00:00Z']);
    const now = new Date('2026-11-22T03:00:00Z');
    const failed = { at: '2026-11-22T02:00:00.000Z', ok: false, error: 'before hook exited with 1' };
    const report = await collectStatus([{ name: 'app', targets: [a], lastRun: failed }], { now });
    expect([report.health, report.jobs[0]!.problems]).toEqual([
      'warning',
      ["the daemon's last run (2026-11-22T02:00:00.000Z) failed: before hook exited with 1"],
    ]);
    const older = await collectStatus([{ name: 'app', targets: [a], lastRun: { ...failed, at: '2026-11-20T02:00:00.000Z' } }], { now });
    expect(older.health).toBe('ok');
  });

  it('writes the figures in the Prometheus text format', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    await snapshotsAt([a], ['2026-11-22T02:00:00Z']);
    const report = await collectStatus([{ name: 'app', targets: [a], alertAfterMs: HOUR }], { now: new Date('2026-11-22T04:00:00Z') });
    const text = await prometheusText(report);
    expect(text).toContain('# TYPE failsafe_last_success_timestamp_seconds gauge');
    expect(text).toContain(`failsafe_last_success_timestamp_seconds{job="app"} ${Date.parse('2026-11-22T02:00:00Z') / 1000}`);
    expect(text).toContain('failsafe_last_success_age_seconds{job="app"} 7200');
    expect(text).toContain('failsafe_snapshots{job="app",target="a"} 1');
    expect(text).toContain('failsafe_job_health{job="app"} 2');
    expect(text).toContain('failsafe_health 2');
  });

  it('formats ages for people', () => {
    expect([formatAge(12), formatAge(25 * 60), formatAge(3 * 3600 + 60), formatAge(3 * 86_400 + 4 * 3600)]).toEqual(['12s', '25m', '3h 1m', '3d 4h']);
  });
});
