import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { SAMPLE_BYTES, withReadBack } from '../../core/repository/read-back.js';

const BODY = Buffer.alloc(10 * SAMPLE_BYTES, 7);

/** A memory store that flips byte `at` of what it keeps, at each of the first `times` puts; counts reads. */
function flipping(at: number, times = Number.POSITIVE_INFINITY) {
  const memory = new MemoryAdapter();
  const seen = { puts: 0, reads: 0 };
  const adapter: StorageAdapter = {
    type: 'memory',
    capabilities: memory.capabilities,
    put: async (key, body, options) => {
      const bytes = Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.concat(await (body as Readable).toArray());
      if (seen.puts++ < times) bytes[at] = bytes[at]! ^ 1;
      return memory.put(key, bytes, options);
    },
    get: (key, options) => (seen.reads++, memory.get(key, options)),
    head: (key) => memory.head(key),
    list: (prefix) => memory.list(prefix),
    delete: (key) => memory.delete(key),
  };
  return { adapter, memory, seen };
}

describe('withReadBack', () => {
  it('sample reads the size and one window: damage inside the window is put again, damage outside it is not seen', async () => {
    const inside = flipping(5 * SAMPLE_BYTES + 10, 1);
    await withReadBack(inside.adapter, 'sample', { pick: () => 5 * SAMPLE_BYTES }).put('k', BODY);
    expect(inside.seen.puts).toBe(2);
    expect(inside.seen.reads).toBe(2);
    expect(Buffer.concat(await (await inside.memory.get('k')).toArray()).equals(BODY)).toBe(true);

    const outside = flipping(10, 1);
    await withReadBack(outside.adapter, 'sample', { pick: () => 5 * SAMPLE_BYTES }).put('k', BODY);
    expect(outside.seen.puts).toBe(1);
  });

  it('all: damaged at every put, E_CHECKSUM after the given number of puts, naming the object', async () => {
    const store = flipping(123);
    const err = (await withReadBack(store.adapter, 'all', { tries: 2 })
      .put('data/j/1/00000000', BODY)
      .catch((e: unknown) => e)) as FailsafeError;
    expect(err.code).toBe('E_CHECKSUM');
    expect(err.object).toBe('data/j/1/00000000');
    expect(err.message).toMatch(/the bytes read back differ from those sent \(the same on 2 puts\)/);
    expect(store.seen.puts).toBe(2);
  });

  it('a stream is hashed on its way and read back whole with all; a damaged one fails at once', async () => {
    const good = flipping(0, 0);
    await expect(withReadBack(good.adapter, 'all').put('s', Readable.from([BODY.subarray(0, 1000), BODY.subarray(1000)]))).resolves.toEqual({
      size: BODY.length,
    });
    const bad = flipping(70_000);
    await expect(withReadBack(bad.adapter, 'all').put('s', Readable.from([BODY]))).rejects.toThrow(/SHA-256 [0-9a-f]{64} read back/);
    expect(bad.seen.puts).toBe(1);
  });

  it('off is the adapter itself; the wrapper keeps exactly the optional members the adapter has', async () => {
    const memory = new MemoryAdapter();
    expect(withReadBack(memory, 'off')).toBe(memory);
    const wrapped = withReadBack(memory, 'sample');
    expect(wrapped.getBuffer).toBeUndefined();
    expect(wrapped.capabilities).toEqual(memory.capabilities);
    const withBuffer = withReadBack(Object.assign(flipping(0, 0).adapter, { getBuffer: async () => BODY }), 'sample');
    expect(await withBuffer.getBuffer!('k')).toBe(BODY);
  });
});
