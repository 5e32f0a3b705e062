/**
 * The error history of an operation (the seeds' error handler): the newest
 * failures with their context, and counts over the whole operation. It is
 * stored inside the operation's checkpoint records, so it survives a crash
 * with them and is read back on resume; only its list is bounded, the counts
 * are not, so a long operation's statistics stay whole.
 */
import { errnoOf, FailsafeError } from '../errors.js';

export interface RecordedError {
  /** ISO 8601 */
  time: string;
  /** The FailsafeError code, else the error's own `code` (`ECONNRESET`), else its name (`Error`, `TypeError`). */
  code: string;
  message: string;
  /** 1 for the first attempt of a call. */
  attempt: number;
  /** True when another attempt followed. */
  willRetry: boolean;
  context?: Record<string, unknown>;
}

export interface ErrorStats {
  /** Failed attempts recorded, retried or not. */
  total: number;
  byCode: Record<string, number>;
  /** Attempts made after a failure. */
  retries: number;
  /** Calls that failed at least once and were tried again… */
  retriedCalls: number;
  /** …of which so many succeeded in the end. */
  recoveredCalls: number;
  /** recoveredCalls / retriedCalls; null before any call was retried. */
  retrySuccessRate: number | null;
}

export interface ErrorLog {
  /** The newest failures, oldest first. */
  recent: RecordedError[];
  stats: ErrorStats;
}

export const DEFAULT_MAX_ERRORS = 50;

export function emptyErrorLog(): ErrorLog {
  return { recent: [], stats: { total: 0, byCode: {}, retries: 0, retriedCalls: 0, recoveredCalls: 0, retrySuccessRate: null } };
}

export function codeOf(err: unknown): string {
  if (err instanceof FailsafeError) return err.code;
  return errnoOf(err) ?? (err instanceof Error ? err.name : typeof err);
}

/** Adds one failed attempt to `log`, dropping the oldest entries beyond `max`. */
export function addError(
  log: ErrorLog,
  err: unknown,
  entry: { attempt?: number; willRetry?: boolean; context?: Record<string, unknown> },
  max: number,
): RecordedError {
  const recorded: RecordedError = {
    time: new Date().toISOString(),
    code: codeOf(err),
    message: err instanceof Error ? err.message : String(err),
    attempt: entry.attempt ?? 1,
    willRetry: entry.willRetry ?? false,
    ...(entry.context ? { context: entry.context } : {}),
  };
  log.recent.push(recorded);
  log.recent.splice(0, Math.max(0, log.recent.length - max));
  log.stats.total++;
  log.stats.byCode[recorded.code] = (log.stats.byCode[recorded.code] ?? 0) + 1;
  if (recorded.willRetry) log.stats.retries++;
  if (recorded.willRetry && recorded.attempt === 1) log.stats.retriedCalls++;
  rate(log);
  return recorded;
}

/** Counts a retried call that succeeded in the end. */
export function addRecovery(log: ErrorLog): void {
  log.stats.recoveredCalls++;
  rate(log);
}

function rate(log: ErrorLog): void {
  const { retriedCalls, recoveredCalls } = log.stats;
  log.stats.retrySuccessRate = retriedCalls === 0 ? null : recoveredCalls / retriedCalls;
}

/** The log stored in a record, or an empty one for a record without (written before there were histories, or by an operation that never failed). */
export function readErrorLog(value: unknown): ErrorLog {
  const log = value as Partial<ErrorLog> | undefined;
  if (typeof log !== 'object' || log === null || !Array.isArray(log.recent) || typeof log.stats !== 'object' || log.stats === null) return emptyErrorLog();
  return { recent: [...log.recent], stats: { ...emptyErrorLog().stats, ...log.stats, byCode: { ...log.stats.byCode } } };
}
