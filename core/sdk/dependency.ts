/**
 * Heavy libraries that only some runs need (prom-client, cli-progress,
 * better-sqlite3, croner, p-retry, …) are imported at first use, so that
 * starting `failsafe` costs only what the command at hand needs. A library
 * that cannot be loaded (a missing or broken native module, an incomplete
 * install) is then a clear one-line E_DEPENDENCY error instead of a stack.
 */
import { FailsafeError } from '../errors.js';

/** The one-line error for a library that failed to load; `what` says what it was needed for. */
export function dependencyError(name: string, what: string, err: unknown): FailsafeError {
  if (err instanceof FailsafeError) return err;
  const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return new FailsafeError('E_DEPENDENCY', `cannot load ${name} (needed for ${what}): ${detail}; reinstall Failsafe's dependencies (npm ci)`, { cause: err });
}

/**
 * A loader that imports a library on its first call and hands out the same
 * module afterwards. A failed import is not cached: the next call tries again.
 */
export function lazyDependency<T>(name: string, what: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw dependencyError(name, what, err);
    });
    return loading;
  };
}
