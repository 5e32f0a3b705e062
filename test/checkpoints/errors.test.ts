/**
 * The retry helper and the error history of a user's own operation, on a
 * real local store: what is retried, what is recorded, and that the record
 * is still there for the next process.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { retry } from '../../core/checkpoints/retry-step.js';
import { runBatch } from '../../core/checkpoints/runner.js';
import { CheckpointStore } from '../../core/checkpoints/store.js';
import { FailsafeError } from '../../core/errors.js';

const fast = { minTimeout: 1, maxTimeout: 2 };

async function localStore(options: { maxErrors?: number } = {}): Promise<{ dir: string; store: CheckpointStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-cp-errors-'));
  return { dir, store: new CheckpointStore(new LocalAdapter({ path: dir }), options) };
}

/** A step that fails `times` times with `make()`, then returns 'done'. */
function failing(times: number, make: () => Error = () => new Error('flaky')): { step: () => string; calls: () => number } {
  let calls = 0;
  return {
    step: () => {
      calls++;
      if (calls <= times) throw make();
      return 'done';
    },
    calls: () => calls,
  };
}

describe('retry and the error history', () => {
  it('a step failing twice then succeeding is retried, and both failures and the recovery are counted', async () => {
    const { store } = await localStore();
    await store.save({ operationId: 'photos', operationName: 'Photos', state: 'running', progress: 0.1, data: { next: 3 } });
    const { step, calls } = failing(2, () => Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    expect(await store.retry('photos', step, { ...fast, context: { item: 'IMG_3.jpg' } })).toBe('done');
    expect(calls()).toBe(3);
    const log = await store.errors('photos');
    expect(log.recent.map((e) => [e.code, e.attempt, e.willRetry, e.context])).toEqual([
      ['ECONNRESET', 1, true, { item: 'IMG_3.jpg' }],
      ['ECONNRESET', 2, true, { item: 'IMG_3.jpg' }],
    ]);
    expect(log.stats).toEqual({ total: 2, byCode: { ECONNRESET: 2 }, retries: 2, retriedCalls: 1, recoveredCalls: 1, retrySuccessRate: 1 });
    // Recording saved the checkpoint again: its state and data are the operation's, unchanged.
    expect(await store.latest('photos')).toMatchObject({ state: 'running', progress: 0.1, data: { next: 3 } });
  });

  it('a permanent FailsafeError is not retried, and is recorded; retryOn rules out more', async () => {
    const { store } = await localStore();
    const denied = failing(5, () => new FailsafeError('E_PERMISSION', 'read-only folder'));
    await expect(store.retry('import', denied.step, fast)).rejects.toMatchObject({ code: 'E_PERMISSION' });
    expect(denied.calls()).toBe(1);
    const bad = failing(5, () => new RangeError('bad row'));
    await expect(store.retry('import', bad.step, { ...fast, retryOn: (err) => !(err instanceof RangeError) })).rejects.toThrow('bad row');
    expect(bad.calls()).toBe(1);
    const { stats, recent } = await store.errors('import');
    expect(recent.map((e) => [e.code, e.willRetry])).toEqual([
      ['E_PERMISSION', false],
      ['RangeError', false],
    ]);
    expect(stats).toMatchObject({ total: 2, retries: 0, retriedCalls: 0, retrySuccessRate: null });
    expect((await store.latest('import'))?.state).toBe('initialized');
  });

  it('gives up after `retries` retries with the last failure', async () => {
    let n = 0;
    const always = () => {
      n++;
      throw new Error(`attempt ${n}`);
    };
    await expect(retry(always, { ...fast, retries: 2 })).rejects.toThrow('attempt 3');
    expect(n).toBe(3);
  });

  it('keeps only the newest maxErrors failures, while the counts cover all of them', async () => {
    const { store } = await localStore({ maxErrors: 5 });
    for (let i = 1; i <= 12; i++) await store.recordError('bounded', new Error(`failure ${i}`), { context: { i } });
    const { recent, stats } = await store.errors('bounded');
    expect(recent.map((e) => e.message)).toEqual(['failure 8', 'failure 9', 'failure 10', 'failure 11', 'failure 12']);
    expect(stats.total).toBe(12);
  });

  it('the history survives into a new store (a new process) and grows there; resume shows it', async () => {
    const { dir, store } = await localStore();
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    const flaky = failing(1);
    // The batch stops at "d", which fails twice and then for good (a crash would leave the same records).
    const process = (item: string) => {
      if (item === 'b') flaky.step();
      if (item === 'd') throw new FailsafeError('E_NOT_FOUND', 'no such photo');
    };
    await expect(runBatch({ store, operationId: 'batch', items, process, everyItems: 1, retry: fast })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });

    const reopened = new CheckpointStore(new LocalAdapter({ path: dir }));
    const [op] = await reopened.recoverable();
    expect(op).toMatchObject({ operationId: 'batch', state: 'failed', errors: { total: 2, byCode: { Error: 1, E_NOT_FOUND: 1 }, recoveredCalls: 1 } });
    const seen: number[] = [];
    const result = await runBatch({ store: reopened, operationId: 'batch', items, process: (_item, i) => void seen.push(i), everyItems: 1 });
    expect(result).toMatchObject({ resumedAt: 3, processed: 3, failed: 0 });
    expect(seen).toEqual([3, 4, 5]);
    // Saves of the resumed run carried the history on.
    expect((await new CheckpointStore(new LocalAdapter({ path: dir })).errors('batch')).recent.map((e) => e.context)).toEqual([
      { index: 1, item: 'b' },
      { index: 3, item: 'd' },
    ]);
  });

  it("onError: 'continue' records an item that still fails and goes on", async () => {
    const { store } = await localStore();
    const result = await runBatch({
      store,
      operationId: 'lenient',
      items: [1, 2, 3],
      onError: 'continue',
      retry: { ...fast, retries: 1 },
      process: (item) => {
        if (item === 2) throw new Error('two is bad');
      },
    });
    expect(result).toMatchObject({ processed: 3, failed: 1 });
    const { stats } = await store.errors('lenient');
    expect(stats).toMatchObject({ total: 2, retries: 1, retriedCalls: 1, recoveredCalls: 0, retrySuccessRate: 0 });
    expect((await store.latest('lenient'))?.state).toBe('completed');
  });

  it('an abort stops the waiting between attempts: the call rejects with E_ABORTED and tries no more', async () => {
    const { store } = await localStore();
    const controller = new AbortController();
    let calls = 0;
    const step = () => {
      calls++;
      // Aborted as the first failure is recorded: the next attempt would come only after a minute's wait.
      setImmediate(() => controller.abort());
      throw new Error('down');
    };
    await expect(store.retry('aborted', step, { minTimeout: 60_000, signal: controller.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(calls).toBe(1);
    expect((await store.errors('aborted')).stats.total).toBe(1);
  });
});
