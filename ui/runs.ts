/**
 * Long actions started from the page (a backup, a drill): one at a time per
 * dashboard, each followed by its progress and its end, which a page reads
 * as server-sent events. A page that connects late gets the latest progress
 * and, if it is over, the end: events are state, not a log to replay.
 */
import { randomBytes } from 'node:crypto';
import { asFailsafeError, FailsafeError } from '../core/errors.js';

export interface RunEvent {
  event: 'progress' | 'done';
  data: unknown;
}

export interface Run {
  id: string;
  kind: string;
  latest?: RunEvent;
  end?: RunEvent;
  listeners: Set<(event: RunEvent) => void>;
}

const KEEP_ENDED = 20;

export class Runs {
  readonly #runs = new Map<string, Run>();
  #active: Run | undefined;

  /** Starts `work` unless another action runs (E_LOCKED); its `progress` callback feeds the run's events. */
  start(kind: string, work: (progress: (data: unknown) => void) => Promise<unknown>): Run {
    if (this.#active) throw new FailsafeError('E_LOCKED', `a ${this.#active.kind} started from the dashboard is still running`);
    const run: Run = { id: randomBytes(9).toString('base64url'), kind, listeners: new Set() };
    this.#active = run;
    this.#runs.set(run.id, run);
    const emit = (event: RunEvent): void => {
      if (event.event === 'done') run.end = event;
      else run.latest = event;
      for (const listener of run.listeners) listener(event);
    };
    const finish = (data: unknown): void => {
      // Free before telling: a page that starts the next action on `done` must not be refused.
      this.#active = undefined;
      this.#forgetOld();
      emit({ event: 'done', data });
    };
    work((data) => emit({ event: 'progress', data })).then(
      (result) => finish({ ok: true, result }),
      (err: unknown) => {
        const e = asFailsafeError(err);
        finish({ ok: false, error: { code: e.code, message: e.message.split('\n')[0] } });
      },
    );
    return run;
  }

  get(id: string): Run {
    const run = this.#runs.get(id);
    if (!run) throw new FailsafeError('E_NOT_FOUND', `no run ${id}`);
    return run;
  }

  /** Resolves when the active action (if any) has ended: closing the server waits for it. */
  async settled(): Promise<void> {
    const run = this.#active;
    if (!run || run.end) return;
    await new Promise<void>((done) => run.listeners.add((e) => e.event === 'done' && done()));
  }

  #forgetOld(): void {
    const ended = [...this.#runs.values()].filter((r) => r.end);
    for (const r of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.#runs.delete(r.id);
  }
}
