/**
 * Retrying a step of the user's own operation (the seeds' retry manager):
 * exponential backoff with jitter from p-retry, cancelled by an AbortSignal,
 * and one rule for what is tried again. Storage calls have their own
 * wrapper (core/repository/retry.ts), whose rule is stricter: there only
 * E_UNREACHABLE passes by itself, while a user's step fails in ways only
 * the user knows, so here the user's `retryOn` decides, after the codes
 * that can never pass by themselves.
 */
import { FailsafeError, isAbortError, type ErrorCode } from '../errors.js';
import { asError, loadPRetry } from '../repository/retry.js';

/**
 * Failures a retry cannot mend: bad usage or configuration, missing things,
 * refused access, a full disk, integrity failures, a cancellation. Never retried, whatever `retryOn` says.
 */
export const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_USAGE',
  'E_CONFIG',
  'E_CONFIG_ENV',
  'E_UNKNOWN_TYPE',
  'E_UNKNOWN_TARGET',
  'E_UNKNOWN_JOB',
  'E_PLUGIN_LOAD',
  'E_KEY_MISSING',
  'E_INVALID_KEY',
  'E_NOT_FOUND',
  'E_SNAPSHOT_NOT_FOUND',
  'E_TARGET_NOT_FOUND',
  'E_BUCKET_NOT_FOUND',
  'E_PERMISSION',
  'E_AUTH',
  'E_NO_SPACE',
  'E_ABORTED',
  'E_EXISTS',
  'E_DEPENDENCY',
  'E_CHECKSUM',
  'E_WRONG_KEY',
  'E_CORRUPT',
  'E_UNSAFE_PATH',
]);

export interface RetryOptions {
  /** Attempts after the first; default 3 (the seed's `RetryConfig(max_retries=3)`). */
  retries?: number;
  /** Wait before the first retry in ms (default 1000), times `factor` (default 2) for each next one, up to `maxTimeout` (default 30 000, or `minTimeout` when more); each stretched by a random 1–2×. */
  minTimeout?: number;
  maxTimeout?: number;
  factor?: number;
  /** Stops waiting and attempting: the call rejects with E_ABORTED. */
  signal?: AbortSignal;
  /** Which failures are worth another attempt, asked after the permanent ones are ruled out; default: every other failure. */
  retryOn?: (err: unknown) => boolean;
  /** Told of each failed attempt, and whether another one follows. */
  onFailure?: (err: unknown, attempt: number, willRetry: boolean) => void | Promise<void>;
}

/**
 * True when `err` may be tried again: not a cancellation, not a FailsafeError
 * with a permanent code, not a TypeError (a bug in the step, which p-retry
 * never retries either), and `retryOn` (if given) agrees.
 */
export function isRetryable(err: unknown, retryOn?: (err: unknown) => boolean): boolean {
  if (isAbortError(err)) return false;
  if (err instanceof FailsafeError && PERMANENT_CODES.has(err.code)) return false;
  if (err instanceof TypeError) return false;
  return retryOn ? retryOn(err) : true;
}

/** Runs `fn` (told its attempt number, from 1) until it resolves, a failure is not retryable, or `retries` retries are spent; rejects with the last failure. */
export async function retry<T>(fn: (attempt: number) => T | Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { signal } = options;
  const retries = options.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0) throw new FailsafeError('E_USAGE', `retries must be a whole number of at least 0, not ${retries}`);
  const { default: pRetry, AbortError } = await loadPRetry();
  // p-retry rejects with the most frequent failure when attempts run out; the last one says best what is wrong now.
  let last: Error | undefined;
  // An abort rejects at once, maybe while onFailure still records the failure: the call settles only after it.
  let told: Promise<void> = Promise.resolve();
  try {
    return await pRetry(
      async (attempt) => {
        try {
          signal?.throwIfAborted();
          return await fn(attempt);
        } catch (err) {
          last = asError(err);
          const willRetry = !signal?.aborted && isRetryable(err, options.retryOn) && attempt <= retries;
          told = Promise.resolve(options.onFailure?.(err, attempt, willRetry));
          await told;
          throw willRetry ? last : new AbortError(last);
        }
      },
      {
        retries,
        minTimeout: options.minTimeout ?? 1000,
        maxTimeout: options.maxTimeout ?? Math.max(30_000, options.minTimeout ?? 0),
        factor: options.factor ?? 2,
        randomize: true,
        ...(signal ? { signal } : {}),
      },
    );
  } catch (err) {
    await told.catch(() => undefined);
    if (signal?.aborted) throw new FailsafeError('E_ABORTED', 'the retried step was cancelled', { cause: signal.reason });
    throw last ?? err;
  }
}

export interface RecordedRetryOptions extends RetryOptions {
  /** Stored with each failure, to tell which item failed (`{ item: 'IMG_0042.jpg' }`). */
  context?: Record<string, unknown>;
}

/** What `recordedRetry` records into: a CheckpointStore. */
export interface ErrorRecorder {
  recordError(operationId: string, err: unknown, entry: { attempt: number; willRetry: boolean; context?: Record<string, unknown> }): Promise<void>;
  recordRecovery(operationId: string): Promise<void>;
}

/** `retry`, with each failed attempt recorded in the operation's error history and a call that succeeds after failing counted as recovered. */
export async function recordedRetry<T>(
  recorder: ErrorRecorder,
  operationId: string,
  fn: (attempt: number) => T | Promise<T>,
  options: RecordedRetryOptions = {},
): Promise<T> {
  const { context, onFailure, ...policy } = options;
  let failed = false;
  const result = await retry(fn, {
    ...policy,
    onFailure: async (err, attempt, willRetry) => {
      failed = true;
      await recorder.recordError(operationId, err, { attempt, willRetry, ...(context ? { context } : {}) });
      await onFailure?.(err, attempt, willRetry);
    },
  });
  if (failed) await recorder.recordRecovery(operationId);
  return result;
}
