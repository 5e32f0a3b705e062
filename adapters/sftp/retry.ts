/**
 * The SFTP adapter's retry: `work` runs on a pooled connection; when the
 * connection drops (server restarted, network gone, a stall ended by the
 * keepalive) it is thrown away and the work retried on a fresh one, with
 * exponential backoff, `retries` times; any other error is final. Not left to
 * the retry wrapper (core/repository/retry.ts), which sees only error codes
 * and whole calls: a lost connection is E_STORAGE, like failures that must
 * not be retried; a stream upload may go again while none of it was sent; a
 * listing is retried folder by folder; a download resumes mid-stream
 * (core/repository/resume.ts). When every try ended in a time-out, the error
 * counts them (core/repository/timeouts.ts): E_UNREACHABLE, "gave up after 4
 * tries: the connection stalled once, 30 s without a byte, and connecting
 * timed out 3 times (20 s each)".
 */
import pRetry, { AbortError } from 'p-retry';
import { FailsafeError } from '../../core/errors.js';
import { isStall, type Attempt, type RetryKind } from '../../core/repository/retry-counts.js';
import { describeGivingUp } from '../../core/repository/timeouts.js';
import type { Connection, ConnectionPool } from './connection.js';
import { isConnectionLoss, remoteError } from './errors.js';
import { idleOf, type SftpOptions } from './options.js';

export interface RetryScope {
  target: string;
  pool: ConnectionPool;
  options: SftpOptions;
  /** Told of each failed attempt; `kind` when it will be made again. */
  failed(kind: RetryKind | undefined, err: unknown, attempt: Attempt): void;
}

/** An operation's description (`put key`, `get key`, …) as what its retries count as. */
export function retryKind(what: string): RetryKind {
  return what.startsWith('put ') ? 'uploads' : what.startsWith('get ') ? 'refetched' : 'other';
}

/** A connection ended for taking longer than the operation time-out, as a stall ends one. */
export function operationTimeout(ms: number): Error {
  return Object.assign(new Error(`not done after ${ms} ms (operation time-out)`), { name: 'TimeoutError' });
}

export function onFreshConnection<T>(
  scope: RetryScope,
  what: string,
  signal: AbortSignal | undefined,
  replayable: () => boolean,
  work: (connection: Connection) => Promise<T>,
): Promise<T> {
  const where = `target "${scope.target}": ${what}`;
  const tally = { tries: 0, stalls: 0, connects: 0 };
  const attempt = async (): Promise<T> => {
    signal?.throwIfAborted();
    tally.tries++;
    let connection: Connection;
    try {
      connection = await scope.pool.acquire();
    } catch (err) {
      if (isStall(err)) tally.connects++;
      // Refused credentials or host keys do not get better by retrying; an unreachable server may.
      if (err instanceof FailsafeError && err.code !== 'E_UNREACHABLE' && err.code !== 'E_STORAGE') throw new AbortError(err);
      throw err;
    }
    const { operationTimeoutMs } = scope.options;
    const timer = setTimeout(() => connection.kill(operationTimeout(operationTimeoutMs)), operationTimeoutMs);
    try {
      return await work(connection);
    } catch (err) {
      if (signal?.aborted) throw new AbortError(new FailsafeError('E_ABORTED', `${where}: aborted`, { cause: err }));
      const lost = isConnectionLoss(err, connection);
      if (lost) scope.pool.discard(connection);
      if (lost && isStall(err)) tally.stalls++;
      const failure = remoteError(err, where, lost);
      if (!lost || !replayable()) throw new AbortError(failure);
      throw failure;
    } finally {
      clearTimeout(timer);
      scope.pool.release(connection);
    }
  };
  const of = scope.options.retries + 1;
  return pRetry(attempt, {
    onFailedAttempt: (err) => {
      const attempt = { number: err.attemptNumber, of, ...(isStall(err) ? { stalledMs: idleOf(scope.options) } : {}) };
      scope.failed(err.retriesLeft > 0 ? retryKind(what) : undefined, err, attempt);
    },
    retries: scope.options.retries,
    minTimeout: 250,
    maxTimeout: 4000,
    factor: 2,
    randomize: true,
    ...(signal ? { signal } : {}),
  }).catch((err: unknown) => {
    const counted =
      signal?.aborted || !isStall(err) ? undefined : describeGivingUp({ ...tally, idleMs: idleOf(scope.options), connectMs: scope.options.connectTimeoutMs });
    throw counted ? new FailsafeError('E_UNREACHABLE', `${where}: ${counted}`, { cause: err }) : err;
  });
}
