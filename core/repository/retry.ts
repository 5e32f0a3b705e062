/**
 * Retry as one wrapper around any adapter (restic's backend/retry): a failure
 * that may pass by itself — an endpoint not reachable for a moment — is tried
 * again with exponential backoff and jitter; any other failure is final at
 * once. Adapters stay small: they report what happened with a FailsafeError
 * code, and this module decides whether it is worth another attempt.
 *
 * What is safe to repeat: every call whose inputs are still whole (a key, a
 * buffer). A `put` from a stream is never repeated, since the first attempt
 * may have read part of it and the bytes are gone; a `list` only until it has
 * yielded its first object, since the caller has acted on what it saw; a
 * `get` only while opening, since read errors surface on the stream later.
 */
import type { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter, StorageOptions } from '../contracts.js';
import { errnoOf, FailsafeError, isAbortError, type ErrorCode } from '../errors.js';
import { lazyDependency } from '../sdk/dependency.js';
import type { RetryKind, RetryListener } from './retry-counts.js';

// Loaded at the first failure worth retrying: a run whose calls all succeed never loads it (test/cli/startup.test.ts).
export const loadPRetry = lazyDependency('p-retry', 'retrying a storage call', () => import('p-retry'));

export interface RetryPolicy {
  /** Attempts after the first; 0 turns retrying off. Default 3. */
  retries?: number;
  /** The wait before the first retry, doubled (`factor`) for each next one up to `maxDelayMs`, each stretched by a random 1–2×. */
  minDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Which failures are worth another attempt; default `isTransient`. */
  transient?: (err: unknown) => boolean;
  /** Told of each failed attempt that will be retried (for counters and logs). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Codes of failures that may pass by themselves. Everything else (E_NOT_FOUND, E_PERMISSION, E_AUTH, E_NO_SPACE, …) fails at once. */
export const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_UNREACHABLE']);

/** Network errnos an adapter may throw raw; the Storage facade would report them as E_STORAGE. */
const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);

export const DEFAULT_RETRY_POLICY = { retries: 3, minDelayMs: 250, maxDelayMs: 4000, factor: 2 } as const;

/** True for a failure worth another attempt: a transient code, or a raw network errno; never a cancellation. */
export function isTransient(err: unknown): boolean {
  if (isAbortError(err)) return false;
  if (err instanceof FailsafeError) return TRANSIENT_CODES.has(err.code);
  const errno = errnoOf(err);
  return errno !== undefined && TRANSIENT_ERRNOS.has(errno);
}

/**
 * The adapter with every repeatable call retried by `policy`; the adapter itself when `policy` is false or allows no retry.
 * `counted` hears of each retry, by kind (./retry-counts.ts).
 */
export function withRetry(adapter: StorageAdapter, policy: RetryPolicy | false = {}, counted?: RetryListener): StorageAdapter {
  if (policy === false || policy.retries === 0) return adapter;
  return new RetryingAdapter(adapter, policy, counted);
}

class RetryingAdapter implements StorageAdapter {
  readonly type: string;
  getBuffer?: (key: string, options?: StorageOptions) => Promise<Buffer>;
  filePath?: (key: string) => Promise<string>;
  cleanupTemp?: (olderThanMs: number) => Promise<number>;
  lockedUntil?: (key: string, options?: StorageOptions) => Promise<Date | undefined>;
  extendLock?: (key: string, options?: StorageOptions) => Promise<Date | undefined>;
  close?: () => Promise<void>;
  readonly #inner: StorageAdapter;
  readonly #policy: RetryPolicy;
  readonly #counted: RetryListener | undefined;

  constructor(inner: StorageAdapter, policy: RetryPolicy, counted?: RetryListener) {
    this.type = inner.type;
    this.#inner = inner;
    this.#policy = policy;
    this.#counted = counted;
    // Optional members exist here exactly when they exist on the adapter: callers test for them.
    const { getBuffer, filePath, cleanupTemp, lockedUntil, extendLock, close } = inner;
    if (getBuffer) this.getBuffer = (key, options) => this.#retry(options, () => getBuffer.call(inner, key, options), 'refetched');
    if (filePath) this.filePath = (key) => filePath.call(inner, key);
    if (cleanupTemp) this.cleanupTemp = (olderThanMs) => this.#retry(undefined, () => cleanupTemp.call(inner, olderThanMs));
    if (lockedUntil) this.lockedUntil = (key, options) => this.#retry(options, () => lockedUntil.call(inner, key, options));
    if (extendLock) this.extendLock = (key, options) => this.#retry(options, () => extendLock.call(inner, key, options));
    if (close) this.close = () => close.call(inner);
  }

  get capabilities(): StorageAdapter['capabilities'] {
    return this.#inner.capabilities;
  }

  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ size: number }> {
    if (!Buffer.isBuffer(body)) return this.#inner.put(key, body, options);
    return this.#retry(options, () => this.#inner.put(key, body, options), 'uploads');
  }

  get(key: string, options?: StorageOptions & { range?: ByteRange }): Promise<Readable> {
    return this.#retry(options, () => this.#inner.get(key, options), 'refetched');
  }

  head(key: string, options?: StorageOptions): Promise<ObjectInfo | undefined> {
    return this.#retry(options, () => this.#inner.head(key, options));
  }

  delete(key: string, options?: StorageOptions): Promise<void> {
    return this.#retry(options, () => this.#inner.delete(key, options));
  }

  async *list(prefix: string, options?: StorageOptions): AsyncIterable<ObjectInfo> {
    let iterator: AsyncIterator<ObjectInfo> | undefined;
    // Each attempt starts a fresh listing; once an object is out, a failure is the caller's.
    const first = await this.#retry(options, async () => {
      const attempt = this.#inner.list(prefix, options)[Symbol.asyncIterator]();
      try {
        const result = await attempt.next();
        iterator = attempt;
        return result;
      } catch (err) {
        await attempt.return?.().catch(() => undefined);
        throw err;
      }
    });
    if (first.done) return;
    let done = false;
    try {
      yield first.value;
      for (let next = await iterator!.next(); !next.done; next = await iterator!.next()) yield next.value;
      done = true;
    } finally {
      // A caller that stops early (or a failure) ends the adapter's listing too.
      if (!done) await iterator!.return?.().catch(() => undefined);
    }
  }

  async #retry<T>(options: StorageOptions | undefined, call: () => Promise<T>, kind: RetryKind = 'other'): Promise<T> {
    const signal = options?.signal;
    const transient = this.#policy.transient ?? isTransient;
    let first: unknown;
    try {
      signal?.throwIfAborted();
      return await call();
    } catch (err) {
      if (signal?.aborted || !transient(err) || this.retries === 0) throw err;
      first = err;
    }
    const { default: pRetry, AbortError } = await loadPRetry();
    // p-retry rejects with the most frequent error when attempts run out; the last one says best what is wrong now.
    let last: Error = asError(first);
    return pRetry(
      async (attempt) => {
        try {
          // The first attempt already failed above: failing it again here makes p-retry wait before the second.
          if (attempt === 1) throw first;
          signal?.throwIfAborted();
          return await call();
        } catch (err) {
          last = asError(err);
          if (signal?.aborted || !transient(err)) throw new AbortError(last);
          if (attempt <= this.retries) {
            this.#policy.onRetry?.(err, attempt);
            this.#counted?.(kind, err);
          }
          throw last;
        }
      },
      {
        retries: this.retries,
        minTimeout: this.#policy.minDelayMs ?? DEFAULT_RETRY_POLICY.minDelayMs,
        maxTimeout: this.#policy.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
        factor: this.#policy.factor ?? DEFAULT_RETRY_POLICY.factor,
        randomize: true,
        ...(signal ? { signal } : {}),
      },
    ).catch((err: unknown) => {
      throw signal?.aborted ? err : last;
    });
  }

  get retries(): number {
    return this.#policy.retries ?? DEFAULT_RETRY_POLICY.retries;
  }
}

/** p-retry passes only Error instances through unchanged. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
