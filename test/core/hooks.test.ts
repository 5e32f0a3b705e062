/** Job hooks through a real shell: order, environment, a failing before, timeouts that end the whole group. */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFailsafeError } from '../../core/errors.js';
import { withHooks } from '../../core/backup/hooks.js';

async function scratch(): Promise<{ cwd: string; log: () => Promise<string[]> }> {
  const cwd = await mkdtemp(join(tmpdir(), 'failsafe-hooks-'));
  return { cwd, log: async () => (await readFile(join(cwd, 'log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean) };
}

const append = (text: string): string => `echo "${text}" >> log`;

describe('withHooks', () => {
  it('runs before, the job, then after with FAILSAFE_STATUS=success, in the config folder', async () => {
    const { cwd, log } = await scratch();
    const hooks = {
      before: append('before $FAILSAFE_JOB $FAILSAFE_HOOK'),
      after: append('after $FAILSAFE_STATUS'),
      onError: append('onError'),
      timeoutMs: 10_000,
    };
    const result = await withHooks(hooks, { job: 'app', cwd }, async () => {
      await readFile(join(cwd, 'log')).then(() => undefined);
      return 42;
    });
    expect(result).toBe(42);
    expect(await log()).toEqual(['before app before', 'after success']);
  });

  it('a failing before aborts the job: the body never runs, onError gets the error, E_HOOK names the hook and its stderr', async () => {
    const { cwd, log } = await scratch();
    let ran = false;
    const hooks = {
      before: 'echo "systemctl: unit not found" >&2; exit 3',
      after: append('after'),
      onError: append('onError $FAILSAFE_ERROR_CODE'),
      timeoutMs: 10_000,
    };
    const run = withHooks(hooks, { job: 'app', cwd }, async () => void (ran = true));
    await expect(run).rejects.toSatisfy((err) => isFailsafeError(err, 'E_HOOK') && /before hook exited with 3: systemctl: unit not found/.test(err.message));
    expect(ran).toBe(false);
    expect(await log()).toEqual(['onError E_HOOK']);
  });

  it('a failing job still runs after (FAILSAFE_STATUS=failure), then onError with the message', async () => {
    const { cwd, log } = await scratch();
    const hooks = { before: append('before'), after: append('after $FAILSAFE_STATUS'), onError: append('onError $FAILSAFE_ERROR'), timeoutMs: 10_000 };
    await expect(withHooks(hooks, { job: 'app', cwd }, async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(await log()).toEqual(['before', 'after failure', 'onError disk full']);
  });

  it('a hook that outlives its timeout is killed with everything it started', async () => {
    const { cwd } = await scratch();
    const hooks = { before: 'sleep 30 & echo $! > pid; wait', timeoutMs: 300 };
    const started = Date.now();
    await expect(withHooks(hooks, { job: 'app', cwd }, async () => undefined)).rejects.toSatisfy(
      (err) => isFailsafeError(err, 'E_HOOK') && /before hook timed out after 0s/.test(err.message),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    const pid = Number(await readFile(join(cwd, 'pid'), 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting for its reaper: either way no longer running.
    const state = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone')).replace(/^.*\) /, '').slice(0, 1);
    expect(['g', 'Z', 'X']).toContain(state);
  });

  it('a cancellation while after runs lets it finish: it is what starts the stopped service again', async () => {
    const { cwd, log } = await scratch();
    // after waits for the test's go, given only once the cancellation happened: no timing decides the outcome.
    const hooks = { after: `touch started; while [ ! -e go ]; do sleep 0.05; done; ${append('after $FAILSAFE_STATUS')}`, timeoutMs: 30_000 };
    const cancel = new AbortController();
    const run = withHooks(hooks, { job: 'app', cwd, signal: cancel.signal }, async () => 'stored');
    while (!(await stat(join(cwd, 'started')).catch(() => undefined))) await new Promise((r) => setTimeout(r, 20));
    cancel.abort();
    await writeFile(join(cwd, 'go'), '');
    await expect(run).resolves.toBe('stored');
    expect(await log()).toEqual(['after success']);
  });
});
