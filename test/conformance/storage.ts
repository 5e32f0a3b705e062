/**
 * The storage conformance suite: every adapter runs it with a few lines (as
 * unstorage's test/drivers/utils.ts), and plugin authors can run it against
 * theirs. It checks the contract documented in core/contracts.ts through the
 * Storage facade, the way the core uses an adapter, and picks its cases from
 * what the adapter declares (abstract-level's `supports`): its capabilities
 * (`rangeRead`, `persistent`) and its optional members (`filePath`,
 * `cleanupTemp`, `lockedUntil`, `extendLock`).
 *
 *   testStorageAdapter('local', { create: async () => new LocalAdapter({ path: await tmp() }) });
 *
 * `additionalTests` receives a getter for the adapter under test, for the
 * adapter's own cases.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ByteRange, StorageAdapter } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { TEMP_PREFIX } from '../../core/fs/atomic.js';
import { Storage } from '../../core/repository/storage.js';

export interface StorageSuiteOptions {
  /** A fresh, empty store for each test. */
  create(): Promise<StorageAdapter>;
  /** Tear down after each test (the suite closes the adapter itself). */
  destroy?(adapter: StorageAdapter): Promise<void>;
  /** Another instance over the same store: required when the adapter declares `persistent: true`. */
  reopen?(adapter: StorageAdapter): Promise<StorageAdapter>;
  /** Bytes in the large-stream test (default 48 MiB). */
  largeSize?: number;
  /** Keys in the many-keys listing test (default 2000). */
  manyKeys?: number;
  /**
   * Checks that the server standing in for the real store cannot pass (s3rver
   * writes an object in place, so concurrent puts of one key interleave; S3
   * does not), by test name, with the reason. They are reported as skipped.
   */
  serverLimits?: Record<string, string>;
  /**
   * For adapters over a folder tree this machine can see (local, an SFTP
   * server on loopback): its root, to plant crash leftovers and check that
   * listings hide them, `cleanupTemp` removes the stale ones, and deletes
   * tidy empty folders.
   */
  folder?(adapter: StorageAdapter): { root: string; cleanupTemp(olderThanMs?: number): Promise<number> };
  additionalTests?(context: { adapter: () => StorageAdapter; storage: () => Storage }): void;
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function keys(storage: Storage, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for await (const info of storage.list(prefix)) found.push(info.key);
  return found;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<FailsafeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FailsafeError);
  expect((err as FailsafeError).code).toBe(code);
  return err as FailsafeError;
}

/** A stream of `size` deterministic pseudo-random bytes in 1 MiB chunks, and their SHA-256. */
function generated(size: number): { stream: Readable; digest: string } {
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < size; at += block.length, i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, size - at)));
    chunk.writeUInt32BE(i, 0); // every chunk differs, so a repeated or dropped chunk changes the digest
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { stream: Readable.from(chunks, { objectMode: false }), digest: hash.digest('hex') };
}

/**
 * The contract's promise that a put that resolves stored exactly the bytes given: a buffer, a stream, and a buffer with a
 * wrong `sha256` hint (which the adapter may send for the store to verify, so it may reject, but never resolve over other
 * bytes). Throws (an assertion) when an object reads back different; exported so a corrupting adapter can be shown to fail it.
 */
export async function expectPutsStoreTheBytesGiven(storage: Storage): Promise<void> {
  // Every byte value at many positions: a flipped, dropped or repeated byte anywhere changes the digest.
  const data = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 131 + (i >> 8)) & 0xff));
  const given = { size: data.length };
  expect(await storage.put('given/buffer', data, { sha256: sha(data) })).toEqual(given);
  expect(await storage.put('given/stream', Readable.from([data.subarray(0, 4097), data.subarray(4097)]))).toEqual(given);
  expect(sha(await storage.getBuffer('given/buffer'))).toBe(sha(data));
  expect(sha(await readAll(await storage.get('given/stream')))).toBe(sha(data));
  const wrongHint = await storage.put('given/hinted', data, { sha256: sha(Buffer.from('other bytes')) }).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (wrongHint === undefined) expect(sha(await storage.getBuffer('given/hinted'))).toBe(sha(data));
  else expect(wrongHint).toBeInstanceOf(FailsafeError);
}

export function testStorageAdapter(name: string, options: StorageSuiteOptions): void {
  describe(`storage conformance: ${name}`, () => {
    let adapter: StorageAdapter;
    let storage: Storage;

    beforeEach(async () => {
      adapter = await options.create();
      storage = new Storage(adapter, name);
    });
    afterEach(async () => {
      await options.destroy?.(adapter);
      await adapter.close?.();
    });

    it('declares its capabilities', () => {
      expect(typeof adapter.capabilities.rangeRead).toBe('boolean');
      expect(typeof adapter.capabilities.persistent).toBe('boolean');
      expect(adapter.type).toMatch(/^[a-z][a-z0-9-]*$/);
    });

    it('round-trips buffers and streams, and head reports the size', async () => {
      const data = randomBytes(100_000);
      expect(await storage.put('a/b/buffer', data)).toEqual({ size: data.length });
      expect(await storage.put('a/b/stream', Readable.from([data.subarray(0, 10), data.subarray(10)]))).toEqual({ size: data.length });
      expect(sha(await storage.getBuffer('a/b/buffer'))).toBe(sha(data));
      expect(sha(await readAll(await storage.get('a/b/stream')))).toBe(sha(data));
      expect((await storage.head('a/b/stream'))?.size).toBe(data.length);
    });

    it('a put that resolves stored exactly the bytes given', () => expectPutsStoreTheBytesGiven(storage));

    it('stores an empty object', async () => {
      await storage.put('empty', Buffer.alloc(0));
      await storage.put('empty-stream', Readable.from([]));
      expect((await storage.getBuffer('empty')).length).toBe(0);
      expect((await storage.head('empty-stream'))?.size).toBe(0);
      expect(await keys(storage)).toEqual(['empty', 'empty-stream']);
    });

    it('replaces an existing object whole', async () => {
      await storage.put('k', Buffer.from('a much longer first version'));
      await storage.put('k', Buffer.from('short'));
      expect((await storage.getBuffer('k')).toString()).toBe('short');
      expect((await storage.head('k'))?.size).toBe(5);
    });

    it('reads byte ranges: the adapter itself with rangeRead, else the facade from whole reads', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      await storage.put('ranged', data);
      const asked: (ByteRange | undefined)[] = [];
      const get = adapter.get.bind(adapter);
      adapter.get = (key, options) => (asked.push(options?.range), get(key, options));
      const read = async (start: number, end?: number): Promise<string> =>
        sha(await storage.getBuffer('ranged', { range: end === undefined ? { start } : { start, end } }));
      expect(await read(0, 0)).toBe(sha(data.subarray(0, 1)));
      expect(await read(1_000_000, 2_500_000)).toBe(sha(data.subarray(1_000_000, 2_500_001)));
      expect(await read(data.length - 5)).toBe(sha(data.subarray(data.length - 5)));
      expect(await read(0)).toBe(sha(data));
      const ranges = [{ start: 0, end: 0 }, { start: 1_000_000, end: 2_500_000 }, { start: data.length - 5 }, { start: 0 }];
      expect(asked).toEqual(adapter.capabilities.rangeRead ? ranges : ranges.map(() => undefined));
    });

    it('a missing key: get rejects with E_NOT_FOUND, head is undefined, delete is fine', async () => {
      const err = await rejectsWithCode(storage.get('no/such/key'), 'E_NOT_FOUND');
      expect(err.message).toContain('no/such/key');
      await rejectsWithCode(storage.getBuffer('no/such/key'), 'E_NOT_FOUND');
      expect(await storage.head('no/such/key')).toBeUndefined();
      await storage.delete('no/such/key');
      await storage.put('x', Buffer.from('1'));
      await storage.delete('x');
      expect(await storage.head('x')).toBeUndefined();
      expect(await keys(storage)).toEqual([]);
    });

    it('refuses keys that could escape the store (E_USAGE) before the adapter sees them', async () => {
      for (const bad of ['', '../x', 'a/../../x', '/abs', 'a//b', 'a/./b', 'sp ace', 'a\\b']) {
        await rejectsWithCode(storage.put(bad, Buffer.from('x')), 'E_USAGE');
      }
      await rejectsWithCode(storage.get('../etc/passwd'), 'E_USAGE');
    });

    it('filePath, when the adapter has it, names a file holding exactly the object; keys are checked first', async () => {
      if (!adapter.filePath) {
        expect(await storage.filePath('k')).toBeUndefined();
        return;
      }
      const data = randomBytes(70_000);
      await storage.put('data/job/1/00000003', data);
      expect(sha(await readFile((await storage.filePath('data/job/1/00000003'))!))).toBe(sha(data));
      await rejectsWithCode(storage.filePath('../etc/passwd'), 'E_USAGE');
    });

    it('lists by prefix in key order, including partial segments', async () => {
      const all = ['data/job/1/manifest', 'data/job/1/00000000', 'data/job/10/x', 'data/jobs/y', 'data/job.z', 'other', 'data/job/2/a-b'];
      for (const key of all) await storage.put(key, Buffer.from(key));
      expect(await keys(storage)).toEqual([...all].sort());
      expect(await keys(storage, 'data/job/')).toEqual(['data/job/1/00000000', 'data/job/1/manifest', 'data/job/10/x', 'data/job/2/a-b']);
      expect(await keys(storage, 'data/job/1')).toEqual(['data/job/1/00000000', 'data/job/1/manifest', 'data/job/10/x']);
      expect(await keys(storage, 'data/job')).toEqual([
        'data/job.z',
        'data/job/1/00000000',
        'data/job/1/manifest',
        'data/job/10/x',
        'data/job/2/a-b',
        'data/jobs/y',
      ]);
      expect(await keys(storage, 'nothing/')).toEqual([]);
      const sizes = new Map<string, number>();
      for await (const info of storage.list('data/job/1/')) sizes.set(info.key, info.size);
      expect(sizes.get('data/job/1/manifest')).toBe('data/job/1/manifest'.length);
    });

    it(`lists thousands of keys`, async () => {
      const count = options.manyKeys ?? 2000;
      const expected: string[] = [];
      for (let start = 0; start < count; start += 100) {
        const batch = Array.from({ length: Math.min(100, count - start) }, (_, i) => `many/${String(start + i).padStart(5, '0')}`);
        await Promise.all(batch.map((key) => storage.put(key, Buffer.from(key))));
        expected.push(...batch);
      }
      await storage.put('manz', Buffer.from('outside the prefix'));
      expect(await keys(storage, 'many/')).toEqual(expected);
      // 2000 puts take Swift's S3 API about a minute on two busy cores: more than the default test timeout.
    }, 180_000);

    it('streams a large object with bounded memory and every byte intact', async () => {
      const size = options.largeSize ?? 48 * 1024 * 1024;
      const { stream, digest } = generated(size);
      expect((await storage.put('large', stream)).size).toBe(size);
      const hash = createHash('sha256');
      let read = 0;
      for await (const chunk of await storage.get('large')) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      expect(read).toBe(size);
      expect(hash.digest('hex')).toBe(digest);
    });

    /** `it`, or a skip naming the reason when the test server cannot pass this check. */
    const check = (title: string, test: () => Promise<void>): void => {
      const reason = options.serverLimits?.[title];
      if (reason) it.skip(`${title} (not checkable here: ${reason})`, test);
      else it(title, test);
    };

    it('concurrent puts of different keys all land', async () => {
      const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(50_000 + i));
      await Promise.all(bodies.map((body, i) => storage.put(`c/${i}`, Readable.from([body.subarray(0, 1000), body.subarray(1000)]))));
      for (const [i, body] of bodies.entries()) expect(sha(await storage.getBuffer(`c/${i}`))).toBe(sha(body));
    });

    check('concurrent puts of one key: one whole version wins', async () => {
      const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(50_000 + i));
      await Promise.all(bodies.map((body) => storage.put('same', Readable.from([body]))));
      const winner = sha(await storage.getBuffer('same'));
      expect(bodies.map(sha)).toContain(winner);
      expect(await keys(storage, 's')).toEqual(['same']);
    });

    it('a put is invisible until complete', async () => {
      await storage.put('atomic', Buffer.from('old version'));
      const body = new PassThrough();
      const putting = storage.put('atomic', body);
      body.write(randomBytes(256 * 1024));
      await sleep(50);
      expect((await storage.getBuffer('atomic')).toString()).toBe('old version');
      expect(await keys(storage)).toEqual(['atomic']);
      body.end(Buffer.from('tail'));
      await putting;
      expect((await storage.head('atomic'))?.size).toBe(256 * 1024 + 4);
    });

    it('a failed put leaves the previous object and no partial one', async () => {
      await storage.put('keep', Buffer.from('previous'));
      const failing = new PassThrough();
      const putting = storage.put('keep', failing);
      failing.write(randomBytes(100_000));
      setTimeout(() => failing.destroy(new Error('source died')), 20);
      await expect(putting).rejects.toBeInstanceOf(FailsafeError);
      const fresh = new PassThrough();
      const freshPut = storage.put('new-key', fresh);
      fresh.write(randomBytes(1000));
      setTimeout(() => fresh.destroy(new Error('source died')), 20);
      await expect(freshPut).rejects.toBeInstanceOf(FailsafeError);
      expect((await storage.getBuffer('keep')).toString()).toBe('previous');
      expect(await storage.head('new-key')).toBeUndefined();
      expect(await keys(storage)).toEqual(['keep']);
    });

    it('an aborted put rejects with E_ABORTED and leaves nothing', async () => {
      const controller = new AbortController();
      const body = new PassThrough();
      const putting = storage.put('aborted', body, { signal: controller.signal });
      body.write(randomBytes(100_000));
      setTimeout(() => controller.abort(), 20);
      await rejectsWithCode(putting, 'E_ABORTED');
      expect(await storage.head('aborted')).toBeUndefined();
      expect(await keys(storage)).toEqual([]);
    });

    it('persists across instances, when it declares persistent', async ({ skip }) => {
      if (!adapter.capabilities.persistent) return skip('the adapter declares persistent: false');
      if (!options.reopen) throw new Error('the adapter declares persistent: true: give the suite a reopen factory to check it');
      await storage.put('persist/me', Buffer.from('still here'));
      const again = new Storage(await options.reopen(adapter), name);
      expect((await again.getBuffer('persist/me')).toString()).toBe('still here');
      await again.close();
    });

    it('cleanupTemp, when the adapter has it, never removes a stored object', async ({ skip }) => {
      if (!adapter.cleanupTemp) return skip('the adapter has no cleanupTemp');
      await storage.put('kept/one', Buffer.from('x'));
      expect(await storage.cleanupTemp(0)).toBeGreaterThanOrEqual(0);
      expect(await keys(storage)).toEqual(['kept/one']);
    });

    it('lockedUntil, when the adapter has it, finds no lock on an object stored without one', async ({ skip }) => {
      if (!adapter.lockedUntil) return skip('the adapter has no lockedUntil');
      await storage.put('unlocked', Buffer.from('x'));
      expect(await storage.lockedUntil('unlocked')).toBeUndefined();
    });

    it('extendLock, when the adapter has it, leaves the object readable and any lock it reports ahead of now', async ({ skip }) => {
      if (!adapter.extendLock) return skip('the adapter has no extendLock');
      await storage.put('extended', Buffer.from('kept'));
      const until = await storage.extendLock('extended');
      if (until !== undefined) expect(until.getTime()).toBeGreaterThan(Date.now());
      expect((await storage.getBuffer('extended')).toString()).toBe('kept');
    });

    if (options.folder) {
      const folder = (): ReturnType<NonNullable<StorageSuiteOptions['folder']>> => options.folder!(adapter);

      it('hides temp files from listings and removes stale ones with cleanupTemp', async () => {
        await storage.put('snap/seg', Buffer.from('x'));
        const stale = join(folder().root, 'snap', `${TEMP_PREFIX}seg-dead`);
        const fresh = join(folder().root, 'snap', `${TEMP_PREFIX}seg-live`);
        await writeFile(stale, 'half a segment');
        await writeFile(fresh, 'being written now');
        const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
        await utimes(stale, old, old);
        const listed: string[] = [];
        for await (const info of storage.list('')) listed.push(info.key);
        expect(listed).toEqual(['snap/seg']);
        expect(await folder().cleanupTemp()).toBe(1);
        expect((await readdir(join(folder().root, 'snap'))).sort()).toEqual([`${TEMP_PREFIX}seg-live`, 'seg']);
      });

      it('deleting the last object of a folder removes the empty folders', async () => {
        await storage.put('a/b/c', Buffer.from('x'));
        await storage.put('a/keep', Buffer.from('y'));
        await storage.delete('a/b/c');
        expect(await readdir(join(folder().root, 'a'))).toEqual(['keep']);
        await storage.put('a/b/again', Buffer.from('z'));
        expect((await storage.getBuffer('a/b/again')).toString()).toBe('z');
      });
    }

    options.additionalTests?.({ adapter: () => adapter, storage: () => storage });
  });
}
