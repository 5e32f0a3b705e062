/**
 * The daemon's scheduler: runs tasks (a job's backup, prune, drill) on cron
 * schedules in one process. croner computes the instants (cron syntax, time
 * zones, DST); the waiting goes through an injected Clock so tests drive time.
 * A task never overlaps itself: a tick that comes while the previous run is
 * still going is skipped. With `catchUp`, a run missed while the process was
 * not running (the last run recorded is older than the last scheduled
 * instant) runs once at start. `stop()` stops scheduling, cancels the runs in
 * progress through their AbortSignal and waits for them to end.
 *
 * croner is loaded at the first cron expression (a schedule in the YAML, the
 * daemon), not when this module is: a backup run from cron never needs it.
 * The load is synchronous (its CommonJS build) because the configuration's
 * validation, which checks cron expressions, is synchronous.
 */
import { createRequire } from 'node:module';
import type { Cron } from 'croner';
import { dependencyError } from '../sdk/dependency.js';
import type { RetryCounts } from '../repository/retry-counts.js';

let croner: typeof import('croner') | undefined;

function loadCroner(): typeof import('croner') {
  try {
    croner ??= createRequire(import.meta.url)('croner') as typeof import('croner');
  } catch (err) {
    throw dependencyError('croner', 'schedules', err);
  }
  return croner;
}

export interface Clock {
  now(): Date;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * What a run tells the state besides how it ended: the transfers it tried again. A run resolves with it, or rejects
 * with an error carrying it as `details`, so that a run that failed after many retries still shows them.
 */
export interface RunDetails {
  retries?: RetryCounts;
}

export interface RunRecord {
  at: Date;
  ok: boolean;
  error?: string;
  retries?: RetryCounts;
}

export interface ScheduledTask {
  /** `backup app`, `prune`, `drill`: unique; the key of its last run in the state. */
  name: string;
  cron: string;
  catchUp?: boolean;
  /** Each run starts up to this much later than scheduled, at random (spreads load across machines). */
  jitterMs?: number;
  run(signal: AbortSignal): Promise<RunDetails | void>;
  /** When the state has no record: the last run derived otherwise (a job's newest snapshot). */
  lastRunHint?(): Promise<Date | undefined>;
}

/** Where last runs are kept between processes. */
export interface RunState {
  lastRun(task: string): Promise<Date | undefined>;
  recordRun(task: string, run: RunRecord): Promise<void>;
}

export type SchedulerEvent =
  | { type: 'scheduled'; task: string; at: Date }
  | { type: 'start'; task: string; catchUp: boolean }
  | { type: 'done'; task: string; ok: boolean; error?: string }
  | { type: 'skipped'; task: string; reason: string };

export interface SchedulerOptions {
  clock?: Clock;
  timeZone?: string;
  state: RunState;
  /** 0 ≤ x < 1; Math.random by default. */
  random?: () => number;
  onEvent?: (event: SchedulerEvent) => void;
}

/** setTimeout's limit: longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Parses a cron expression (5 fields, or 6 with seconds); throws with croner's reason when invalid. */
export function cronOf(expression: string, timeZone?: string): Cron {
  const { Cron } = loadCroner();
  return new Cron(expression, { paused: true, ...(timeZone ? { timezone: timeZone } : {}) });
}

export class Scheduler {
  readonly #tasks: ScheduledTask[];
  readonly #clock: Clock;
  readonly #options: SchedulerOptions;
  readonly #timers = new Map<string, unknown>();
  readonly #running = new Map<string, { promise: Promise<void>; controller: AbortController }>();
  #stopped = false;

  constructor(tasks: ScheduledTask[], options: SchedulerOptions) {
    this.#tasks = tasks;
    this.#clock = options.clock ?? systemClock;
    this.#options = options;
  }

  /** Arms every task; runs the missed ones once (catchUp). */
  async start(): Promise<void> {
    for (const task of this.#tasks) {
      const cron = cronOf(task.cron, this.#options.timeZone);
      if (task.catchUp && (await this.#missed(task, cron))) this.#launch(task, true);
      this.#arm(task, cron);
    }
  }

  /** The runs in progress, by task name. */
  /** Every task, as `name (cron)`. */
  get tasks(): string[] {
    return this.#tasks.map((t) => `${t.name} (${t.cron})`);
  }

  get running(): string[] {
    return [...this.#running.keys()];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const handle of this.#timers.values()) this.#clock.clearTimer(handle);
    this.#timers.clear();
    for (const { controller } of this.#running.values()) controller.abort(new Error('the scheduler is stopping'));
    await Promise.all([...this.#running.values()].map((r) => r.promise));
  }

  async #missed(task: ScheduledTask, cron: Cron): Promise<boolean> {
    const [previous] = cron.previousRuns(1, this.#clock.now());
    if (!previous) return false;
    const last = (await this.#options.state.lastRun(task.name)) ?? (await task.lastRunHint?.());
    return last === undefined || last.getTime() < previous.getTime();
  }

  #arm(task: ScheduledTask, cron: Cron): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const next = cron.nextRun(now);
    if (!next) return;
    const jitter = task.jitterMs ? Math.floor((this.#options.random ?? Math.random)() * task.jitterMs) : 0;
    const due = next.getTime() + jitter;
    this.#options.onEvent?.({ type: 'scheduled', task: task.name, at: new Date(due) });
    const wait = (): void => {
      const remaining = due - this.#clock.now().getTime();
      if (remaining > 0) {
        this.#timers.set(task.name, this.#clock.setTimer(wait, Math.min(remaining, MAX_TIMER_MS)));
        return;
      }
      this.#timers.delete(task.name);
      this.#launch(task, false);
      // The next instant strictly after this one, even if the clock has not moved.
      this.#arm(task, cron);
    };
    wait();
  }

  #launch(task: ScheduledTask, catchUp: boolean): void {
    if (this.#stopped) return;
    if (this.#running.has(task.name)) {
      this.#options.onEvent?.({ type: 'skipped', task: task.name, reason: 'the previous run is still going' });
      return;
    }
    const controller = new AbortController();
    const startedAt = this.#clock.now();
    this.#options.onEvent?.({ type: 'start', task: task.name, catchUp });
    const promise = (async () => {
      let error: string | undefined;
      let details: RunDetails | void;
      try {
        details = await task.run(controller.signal);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        details = (err as { details?: RunDetails } | undefined)?.details;
      }
      const record = { at: startedAt, ok: error === undefined, ...(error ? { error } : {}), ...(details?.retries ? { retries: details.retries } : {}) };
      await this.#options.state.recordRun(task.name, record).catch(() => undefined);
      this.#options.onEvent?.({ type: 'done', task: task.name, ok: error === undefined, ...(error ? { error } : {}) });
    })().finally(() => this.#running.delete(task.name));
    this.#running.set(task.name, { promise, controller });
  }
}
