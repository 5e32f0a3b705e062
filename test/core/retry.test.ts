/** The retry wrapper over a real MemoryAdapter that fails on purpose: what it retries, how often, and what it never repeats. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import type { ObjectInfo, StorageAdapter, StorageOptions } from '../../core/contracts.js';
import { FailsafeError, type ErrorCode } from '../../core/errors.js';
import { isTransient, withRetry, type RetryPolicy } from '../../core/repository/retry.js';
import { Storage } from '../../core/repository/storage.js';

/** Fails the next `failures` calls of each operation with `code`, then delegates to a real MemoryAdapter (`inner`). */
class FlakyAdapter implements StorageAdapter {
  readonly type = 'flaky';
  readonly inner = new MemoryAdapter();
  readonly capabilities = this.inner.capabilities;
  readonly calls: Record<string, number> = {};
  /** Lists fail after their first object instead of before it. */
  failAfterFirst = false;

  constructor(
    readonly failures: number,
    readonly code: ErrorCode,
  ) {}

  #fail(operation: string): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    if (this.calls[operation] <= this.failures) throw new FailsafeError(this.code, `flaky: ${operation} failed (${this.calls[operation]})`);
  }

  async put(key: string, body: Readable | Buffer, options?: StorageOptions): Promise<{ size: number }> {
    if (!Buffer.isBuffer(body)) for await (const _ of body) break; // takes a first chunk, as a real upload would
    this.#fail('put');
    return this.inner.put(key, body, options);
  }

  async get(key: string, options?: StorageOptions): Promise<Readable> {
    this.#fail('get');
    return this.inner.get(key, options);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.#fail('head');
    return this.inner.head(key);
  }

  async delete(key: string): Promise<void> {
    this.#fail('delete');
    return this.inner.delete(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    if (!this.failAfterFirst) this.#fail('list');
    let yielded = false;
    for await (const info of this.inner.list(prefix)) {
      if (yielded && this.failAfterFirst) this.#fail('list');
      yield info;
      yielded = true;
    }
  }
}

const fast: RetryPolicy = { retries: 3, minDelayMs: 1, maxDelayMs: 2 };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (err: unknown) => (err instanceof FailsafeError ? err.code : (err as Error).name),
  );
}

describe('withRetry', () => {
  it('retries a transient failure until it passes, with the same result as without failures', async () => {
    const flaky = new FlakyAdapter(2, 'E_UNREACHABLE');
    const retries: number[] = [];
    const storage = new Storage(withRetry(flaky, { ...fast, onRetry: (_, attempt) => retries.push(attempt) }), 't');
    await storage.put('a/b', Buffer.from('hello'));
    expect(flaky.calls.put).toBe(3);
    expect(retries).toEqual([1, 2]);
    expect((await storage.getBuffer('a/b')).toString()).toBe('hello');
    expect(flaky.calls.get).toBe(3);
    expect(await storage.exists('a/b')).toBe(true);
    expect(flaky.calls.head).toBe(3);
    await storage.delete('a/b');
    expect(flaky.calls.delete).toBe(3);
  });

  it('gives up after `retries` more attempts, with the last error', async () => {
    const flaky = new FlakyAdapter(10, 'E_UNREACHABLE');
    const err = await withRetry(flaky, fast)
      .head('x')
      .catch((e: unknown) => e as FailsafeError);
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).code).toBe('E_UNREACHABLE');
    expect((err as FailsafeError).message).toContain('(4)');
    expect(flaky.calls.head).toBe(4);
  });

  it.each(['E_NOT_FOUND', 'E_PERMISSION', 'E_AUTH', 'E_NO_SPACE', 'E_NOT_MOUNTED', 'E_ABORTED', 'E_USAGE', 'E_STORAGE'] as const)(
    'never retries %s',
    async (code) => {
      const flaky = new FlakyAdapter(1, code);
      expect(await codeOf(withRetry(flaky, fast).put('k', Buffer.from('x')))).toBe(code);
      expect(flaky.calls.put).toBe(1);
    },
  );

  it('classifies by code, and raw network errnos as transient, but never a cancellation', () => {
    expect(isTransient(new FailsafeError('E_UNREACHABLE', 'x'))).toBe(true);
    expect(isTransient(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe(false);
    expect(isTransient(new DOMException('stop', 'AbortError'))).toBe(false);
  });

  it('never repeats a put from a stream: its bytes may be half read', async () => {
    const flaky = new FlakyAdapter(1, 'E_UNREACHABLE');
    const body = Readable.from([Buffer.from('one'), Buffer.from('two')]);
    expect(await codeOf(withRetry(flaky, fast).put('k', body))).toBe('E_UNREACHABLE');
    expect(flaky.calls.put).toBe(1);
  });

  it('stops waiting when the signal aborts between attempts', async () => {
    const flaky = new FlakyAdapter(10, 'E_UNREACHABLE');
    const controller = new AbortController();
    const slow = withRetry(flaky, { retries: 5, minDelayMs: 60_000, maxDelayMs: 60_000 });
    const started = Date.now();
    const pending = codeOf(slow.head('x', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(flaky.calls.head).toBe(1);
    // Through the facade, a cancellation reads as E_ABORTED.
    const storage = new Storage(slow, 't');
    const again = new AbortController();
    setTimeout(() => again.abort(), 20);
    expect(await codeOf(storage.head('x', { signal: again.signal }))).toBe('E_ABORTED');
  });

  it('retries a listing that failed before its first object, never one that failed after', async () => {
    const seed = async (adapter: FlakyAdapter, keys: string[]): Promise<void> => {
      for (const key of keys) await adapter.inner.put(key, Buffer.from(key));
    };
    const flaky = new FlakyAdapter(1, 'E_UNREACHABLE');
    await seed(flaky, ['p/1', 'p/2', 'p/3']);
    const seen: string[] = [];
    for await (const info of withRetry(flaky, fast).list('p/')) seen.push(info.key);
    expect(seen).toEqual(['p/1', 'p/2', 'p/3']);
    expect(flaky.calls.list).toBe(2);

    const midway = new FlakyAdapter(5, 'E_UNREACHABLE');
    midway.failAfterFirst = true;
    await seed(midway, ['p/1', 'p/2']);
    const got: string[] = [];
    const listing = (async () => {
      for await (const info of withRetry(midway, fast).list('p/')) got.push(info.key);
    })();
    expect(await codeOf(listing)).toBe('E_UNREACHABLE');
    expect(got).toEqual(['p/1']);
    expect(midway.calls.list).toBe(1);
  });

  it('keeps the optional members the adapter has, and only those', () => {
    const plain = withRetry(new MemoryAdapter(), fast);
    expect(plain.getBuffer).toBeUndefined();
    expect(plain.filePath).toBeUndefined();
    expect(plain.capabilities).toEqual(new MemoryAdapter().capabilities);
    const memory = new MemoryAdapter();
    expect(withRetry(memory, { retries: 0 })).toBe(memory);
    expect(withRetry(memory, false)).toBe(memory);
  });
});
