/**
 * A job's shell hooks: `before` (stop a service, dump a database), `after`
 * and `onError`, each with a timeout. A failing `before` aborts the job
 * before anything is read, so no snapshot is made. `after` runs whenever
 * `before` succeeded, whatever the backup's outcome, so a service stopped by
 * `before` is always started again; `onError` runs on any failure.
 */
import { spawn } from 'node:child_process';
import { asFailsafeError, FailsafeError } from '../errors.js';

export interface JobHooks {
  before?: string;
  after?: string;
  onError?: string;
  /** After a successful in-place restore of the job's snapshot (core/restore/after-restore.ts). */
  afterRestore?: string;
  timeoutMs: number;
}

export interface HookContext {
  job: string;
  cwd: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

const KILL_GRACE_MS = 5_000;
const TAIL = 2_000;

/**
 * Runs `body` between the job's hooks. Without hooks it is just `body()`. A cancellation stops `before` and the
 * body, never `after` or `onError`: they are what starts a stopped service again (each still has its timeout).
 */
export async function withHooks<T>(hooks: JobHooks | undefined, hookContext: HookContext, body: () => Promise<T>): Promise<T> {
  if (!hooks) return body();
  const { signal: _uncancellable, ...context } = hookContext;
  try {
    if (hooks.before) await runHook('before', hooks.before, hooks.timeoutMs, hookContext, {});
  } catch (err) {
    await onError(hooks, context, err);
    throw err;
  }
  let result: T;
  try {
    result = await body();
  } catch (err) {
    if (hooks.after)
      await runHook('after', hooks.after, hooks.timeoutMs, context, { FAILSAFE_STATUS: 'failure' }).catch((e: Error) => context.warn?.(e.message));
    await onError(hooks, context, err);
    throw err;
  }
  try {
    if (hooks.after) await runHook('after', hooks.after, hooks.timeoutMs, context, { FAILSAFE_STATUS: 'success' });
  } catch (err) {
    await onError(hooks, context, err);
    throw err;
  }
  return result;
}

async function onError(hooks: JobHooks, context: HookContext, err: unknown): Promise<void> {
  if (!hooks.onError) return;
  const message = err instanceof Error ? err.message : String(err);
  const code = asFailsafeError(err).code;
  await runHook('onError', hooks.onError, hooks.timeoutMs, context, { FAILSAFE_STATUS: 'failure', FAILSAFE_ERROR: message, FAILSAFE_ERROR_CODE: code }).catch(
    (e: Error) => context.warn?.(e.message),
  );
}

/**
 * One hook through the shell, in its own process group so that a timeout
 * ends the whole pipeline it started (SIGTERM, then SIGKILL). Rejects with
 * E_HOOK naming the hook, its exit status and the end of its stderr.
 */
export function runHook(name: string, command: string, timeoutMs: number, context: HookContext, env: Record<string, string>): Promise<void> {
  const what = `${name} hook`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, {
      shell: true,
      cwd: context.cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env, FAILSAFE_JOB: context.job, FAILSAFE_HOOK: name },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-TAIL)));
    let why: string | undefined;
    const kill = (reason: string): void => {
      why ??= reason;
      try {
        process.kill(-child.pid!, 'SIGTERM');
        setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }, KILL_GRACE_MS).unref();
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`timed out after ${Math.round(timeoutMs / 1000)}s`), timeoutMs);
    const onAbort = (): void => kill('cancelled');
    context.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FailsafeError('E_HOOK', `${what} could not start: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      context.signal?.removeEventListener('abort', onAbort);
      if (code === 0 && !why) return resolve();
      const last = stderr.trim().split('\n').pop();
      const status = why ?? (code !== null ? `exited with ${code}` : `was killed by ${signal}`);
      reject(new FailsafeError(why === 'cancelled' ? 'E_ABORTED' : 'E_HOOK', `${what} ${status}${last ? `: ${last}` : ''}`));
    });
  });
}
