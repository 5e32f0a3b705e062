/**
 * A job's `afterRestore` hook (seed 004: restart the service, then check its
 * `/health`): run once an in-place restore has succeeded — every source
 * swapped in and checked. It is not run after a dry run, a restore `--to` a
 * folder (nothing live changed), or a restore that failed and rolled back.
 *
 * A failing hook does not roll the restore back: the restored data passed
 * every check, and the hook's failure (a service that does not come up) is
 * better seen than hidden behind the old data coming back. The restore
 * rejects with E_HOOK saying so, naming where the replaced data was kept.
 */
import { FailsafeError } from '../errors.js';
import { runHook, type JobHooks } from '../backup/hooks.js';
import type { RestoreResult } from './run-restore.js';

export interface AfterRestoreContext {
  cwd: string;
  warn?: (message: string) => void;
}

/** Runs `hooks.afterRestore` for `result` when the restore replaced live data; resolves with whether it ran. */
export async function runAfterRestore(hooks: JobHooks | undefined, result: RestoreResult, inPlace: boolean, context: AfterRestoreContext): Promise<boolean> {
  const command = hooks?.afterRestore;
  if (!command || !inPlace || result.dryRun) return false;
  const env = { FAILSAFE_STATUS: 'success', FAILSAFE_SNAPSHOT: result.id, FAILSAFE_SOURCES: result.sources.map((s) => s.name).join(',') };
  try {
    // Not cancellable, like `after`: it is what starts a service again.
    await runHook('afterRestore', command, hooks.timeoutMs, { job: result.job, cwd: context.cwd, ...(context.warn ? { warn: context.warn } : {}) }, env);
  } catch (err) {
    const error = err as FailsafeError;
    const previous = result.sources.flatMap((s) => s.previous);
    const kept = previous.length > 0 ? `; the replaced data is kept as ${previous.join(', ')}` : '';
    throw new FailsafeError('E_HOOK', `${error.message} — the restore of ${result.job}/${result.id} itself succeeded and stays in place${kept}`, {
      cause: err,
    });
  }
  return true;
}
