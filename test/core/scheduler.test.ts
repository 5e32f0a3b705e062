/** The scheduler against a controllable clock: ticks, no overlap, catch-up, jitter, stop. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileRunState } from '../../core/automation/run-state.js';
import { Scheduler, type RunState, type SchedulerEvent } from '../../core/automation/scheduler.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

class MemoryState implements RunState {
  runs = new Map<string, Date>();
  async lastRun(task: string): Promise<Date | undefined> {
    return this.runs.get(task);
  }
  async recordRun(task: string, run: { at: Date }): Promise<void> {
    this.runs.set(task, run.at);
  }
}

const MIN = 60_000;

describe('Scheduler', () => {
  it('runs a task at each cron instant in its time zone', async () => {
    const clock = new FakeClock('2026-11-22T00:00:00Z');
    const ran: string[] = [];
    const state = new MemoryState();
    const scheduler = new Scheduler([{ name: 'backup app', cron: '0 2 * * *', run: async () => void ran.push(clock.now().toISOString()) }], {
      clock,
      state,
      timeZone: 'Europe/Berlin',
    });
    await scheduler.start();
    await clock.advance(3 * 24 * 60 * MIN);
    // 02:00 in Berlin is 01:00 UTC in winter.
    expect(ran).toEqual(['2026-11-22T01:00:00.000Z', '2026-11-23T01:00:00.000Z', '2026-11-24T01:00:00.000Z']);
    expect(state.runs.get('backup app')?.toISOString()).toBe('2026-11-24T01:00:00.000Z');
    await scheduler.stop();
    expect(clock.pending).toBe(0);
  });

  it('never overlaps a task with itself: a tick during a run is skipped', async () => {
    const clock = new FakeClock('2026-11-22T00:00:30Z');
    let release: () => void = () => undefined;
    let started = 0;
    const events: SchedulerEvent[] = [];
    const scheduler = new Scheduler([{ name: 'backup app', cron: '* * * * *', run: () => new Promise<void>((r) => ((release = r), started++)) }], {
      clock,
      state: new MemoryState(),
      onEvent: (e) => events.push(e),
    });
    await scheduler.start();
    await clock.advance(MIN); // 00:01 starts a run that hangs
    await clock.advance(2 * MIN); // 00:02 and 00:03 come while it runs
    expect(started).toBe(1);
    expect(events.filter((e) => e.type === 'skipped')).toHaveLength(2);
    release();
    await settle();
    await clock.advance(MIN);
    expect(started).toBe(2);
    release();
    await scheduler.stop();
  });

  it('catchUp runs a missed run once at start; without a record it asks the hint; an up-to-date task waits', async () => {
    const clock = new FakeClock('2026-11-22T10:00:00Z');
    const state = new MemoryState();
    state.runs.set('missed', new Date('2026-11-20T02:00:00Z'));
    state.runs.set('current', new Date('2026-11-22T02:00:05Z'));
    const ran: string[] = [];
    const task = (name: string, extra = {}): { name: string; cron: string; catchUp: boolean; run: () => Promise<void> } => ({
      name,
      cron: '0 2 * * *',
      catchUp: true,
      run: async () => void ran.push(name),
      ...extra,
    });
    const scheduler = new Scheduler(
      [
        task('missed'),
        task('current'),
        task('fresh-snapshot', { lastRunHint: async () => new Date('2026-11-22T02:00:30Z') }),
        task('old-snapshot', { lastRunHint: async () => new Date('2026-11-01T02:00:00Z') }),
        { ...task('no-catch-up'), catchUp: false },
      ],
      { clock, state, timeZone: 'UTC' },
    );
    await scheduler.start();
    await settle();
    expect(ran.sort()).toEqual(['missed', 'old-snapshot']);
    await clock.advance(16 * 60 * MIN); // to 02:00 next day: every task runs once
    expect(ran.filter((n) => n === 'missed')).toHaveLength(2);
    expect(ran.filter((n) => n === 'no-catch-up')).toHaveLength(1);
    await scheduler.stop();
  });

  it('jitter delays each run by up to jitterMs', async () => {
    const clock = new FakeClock('2026-11-22T00:00:00Z');
    const ran: string[] = [];
    const scheduler = new Scheduler([{ name: 't', cron: '0 * * * *', jitterMs: 10 * MIN, run: async () => void ran.push(clock.now().toISOString()) }], {
      clock,
      state: new MemoryState(),
      random: () => 0.5,
    });
    await scheduler.start();
    await clock.advance(2 * 60 * MIN);
    expect(ran).toEqual(['2026-11-22T01:05:00.000Z']);
    await scheduler.stop();
  });

  it('stop cancels a run in progress through its signal and waits for it', async () => {
    const clock = new FakeClock('2026-11-22T00:00:30Z');
    let sawAbort = false;
    const scheduler = new Scheduler(
      [
        {
          name: 'backup app',
          cron: '* * * * *',
          run: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => ((sawAbort = true), setTimeout(resolve, 20)))),
        },
      ],
      { clock, state: new MemoryState() },
    );
    await scheduler.start();
    await clock.advance(MIN);
    expect(scheduler.running).toEqual(['backup app']);
    await scheduler.stop();
    expect(sawAbort).toBe(true);
    expect(scheduler.running).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});

describe('FileRunState', () => {
  it('keeps last runs across instances, atomically, and reads a missing file as empty', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'failsafe-state-')), 'sub', 'state.json');
    const first = new FileRunState(path);
    expect(await first.lastRun('backup app')).toBeUndefined();
    await Promise.all([
      first.recordRun('backup app', { at: new Date('2026-11-22T02:00:00Z'), ok: true }),
      first.recordRun('prune', { at: new Date('2026-11-22T03:00:00Z'), ok: false, error: 'target unreachable' }),
    ]);
    const second = new FileRunState(path);
    expect((await second.lastRun('backup app'))?.toISOString()).toBe('2026-11-22T02:00:00.000Z');
    expect(JSON.parse(await readFile(path, 'utf8')).prune).toEqual({ lastRun: '2026-11-22T03:00:00.000Z', ok: false, error: 'target unreachable' });
  });
});
