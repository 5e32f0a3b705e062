/**
 * Reading an object again where the fault happened (issue 26): a fetch whose
 * transfer broke (a dropped or stalled connection) or whose bytes fail their
 * check (E_CHECKSUM: a byte flipped on the way, or damage in the store) is
 * fetched and checked again, with backoff, a bounded number of times. The
 * adapter-level retry (./retry.ts) cannot do this: it sees neither a stream
 * that breaks after `get` resolved nor a checksum only the reader can compute.
 * Only an object that fails on every try is reported, with how many were made,
 * so E_CHECKSUM (exit 3, "the backup is damaged") means what it says.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FailsafeError, isAbortError, isFailsafeError } from '../errors.js';
import { DEFAULT_RETRY_POLICY, isTransient } from './retry.js';

/** Tries of a remote read, the first included. */
export const READ_TRIES = 3;

export interface ReadAgainOptions {
  signal?: AbortSignal | undefined;
  /** Tries in all (default READ_TRIES); 1 reads once, as for a local file, where bytes do not travel. */
  tries?: number;
  /** The wait before the second try, doubled for each next one (default 250 ms), stretched by a random 1–2×. */
  minDelayMs?: number;
  /** Told of each failed try that will be tried again. */
  onRetry?: (err: unknown, attempt: number) => void;
}

/** A transfer that broke (a reset, an idle timeout), itself or as the cause of the facade's E_STORAGE. */
export function isBrokenTransfer(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isTransient(e) || e.name === 'TimeoutError') return true;
  }
  return false;
}

/** True for a read failure that another fetch may not repeat. */
export function isWorthReadingAgain(err: unknown): boolean {
  // E_UNREACHABLE: the adapter already tried as often as it is told to (every attempt stalled, say); more would multiply them.
  if (isAbortError(err) || isFailsafeError(err, 'E_ABORTED') || isFailsafeError(err, 'E_UNREACHABLE')) return false;
  return isFailsafeError(err, 'E_CHECKSUM') || isBrokenTransfer(err);
}

/** `read()` (a fetch and its check), tried again while it fails in a way another fetch may not repeat. */
export async function readAgain<T>(read: () => Promise<T>, options: ReadAgainOptions = {}): Promise<T> {
  const tries = Math.max(1, options.tries ?? READ_TRIES);
  const delay = options.minDelayMs ?? DEFAULT_RETRY_POLICY.minDelayMs;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await read();
    } catch (err) {
      if (options.signal?.aborted || !isWorthReadingAgain(err)) throw err;
      if (attempt >= tries) throw tries > 1 && err instanceof FailsafeError ? withTries(err, tries) : err;
      options.onRetry?.(err, attempt);
      const wait = Math.min(delay * DEFAULT_RETRY_POLICY.factor ** (attempt - 1), DEFAULT_RETRY_POLICY.maxDelayMs) * (1 + Math.random());
      await sleep(wait, undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}

function withTries(err: FailsafeError, tries: number): FailsafeError {
  return new FailsafeError(err.code, `${err.message} (the same on ${tries} tries)`, { cause: err, ...(err.object ? { object: err.object } : {}) });
}
