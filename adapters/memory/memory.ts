/** Objects in a Map: for tests (ours and users') and for trying a configuration. */
import { addAbortSignal, Readable } from 'node:stream';
import { z } from 'zod';
import type { ByteRange, ObjectInfo, StorageAdapter, StorageOptions } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { defineAdapter } from '../../core/sdk/registry.js';

export class MemoryAdapter implements StorageAdapter {
  readonly type = 'memory';
  readonly capabilities = { rangeRead: true, persistent: false } as const;
  readonly #objects = new Map<string, { data: Buffer; modified: Date }>();

  async put(key: string, body: Readable | Buffer, options: StorageOptions = {}): Promise<{ size: number }> {
    options.signal?.throwIfAborted();
    let data: Buffer;
    if (Buffer.isBuffer(body)) data = Buffer.from(body);
    else {
      // Buffer everything first: the object appears only once complete.
      const chunks: Buffer[] = [];
      if (options.signal) addAbortSignal(options.signal, body);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        options.signal?.throwIfAborted();
        chunks.push(chunk);
      }
      data = Buffer.concat(chunks);
    }
    options.signal?.throwIfAborted();
    this.#objects.set(key, { data, modified: new Date() });
    return { size: data.length };
  }

  async get(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Readable> {
    const object = this.#objects.get(key);
    if (!object) throw new FailsafeError('E_NOT_FOUND', `memory: ${key}: not found`);
    const { range } = options;
    const data = range ? object.data.subarray(range.start, range.end === undefined ? undefined : range.end + 1) : object.data;
    return Readable.from([data], { objectMode: false });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const object = this.#objects.get(key);
    return object ? { key, size: object.data.length, modified: object.modified } : undefined;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }
}

export const memoryAdapter = defineAdapter({
  type: 'memory',
  optionsSchema: z.object({}).strict(),
  create: () => new MemoryAdapter(),
});
