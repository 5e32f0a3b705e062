import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import type { PutOptions } from '../../core/contracts.js';
import { Storage } from '../../core/repository/storage.js';
import { expectPutsStoreTheBytesGiven, testStorageAdapter } from '../conformance/storage.js';

testStorageAdapter('memory', { create: async () => new MemoryAdapter() });

// No built-in adapter lacks ranged reads: this one declares it does, so the suite checks that the facade never asks it for a range.
testStorageAdapter('memory, declaring no ranged reads', {
  create: async () => Object.defineProperty(new MemoryAdapter(), 'capabilities', { value: { rangeRead: false, persistent: false } }),
  largeSize: 4 * 1024 * 1024,
  manyKeys: 200,
});

describe('the suite catches an adapter whose put resolves over damaged bytes', () => {
  /** A memory store behind a link that flips one byte of every body on the way and reports success. */
  class CorruptingAdapter extends MemoryAdapter {
    override async put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ size: number }> {
      const chunks: Buffer[] = [];
      for await (const chunk of Buffer.isBuffer(body) ? [body] : body) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      if (bytes.length > 0) bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01;
      return super.put(key, bytes, options);
    }
  }

  it('fails the case "a put that resolves stored exactly the bytes given"', async () => {
    await expect(expectPutsStoreTheBytesGiven(new Storage(new MemoryAdapter(), 'intact'))).resolves.toBeUndefined();
    await expect(expectPutsStoreTheBytesGiven(new Storage(new CorruptingAdapter(), 'corrupting'))).rejects.toThrow(/expected/);
  });
});
