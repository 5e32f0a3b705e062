/** Sources made up on the spot and store listings, for engine tests. */
import { Readable } from 'node:stream';
import type { SourceEntry, SourcePlugin } from '../../core/contracts.js';
import type { Storage } from '../../core/storage.js';

/** A source that streams `count` files of `size` bytes, failing at file `failAt` if given. */
export function syntheticSource(count: number, size: number, failAt?: number): SourcePlugin {
  return {
    type: 'synthetic',
    name: 'synthetic',
    liveLocations: () => [],
    restore: async () => 0,
    async *entries(): AsyncIterable<SourceEntry> {
      for (let i = 0; i < count; i++) {
        if (i === failAt) throw Object.assign(new Error('disk vanished'), { code: 'EIO' });
        yield {
          path: `f${i}`,
          type: 'file',
          size,
          mode: 0o644,
          mtime: new Date(),
          open: () => Readable.from([Buffer.alloc(size, i)]),
        };
      }
    },
  };
}

/** Every key in a store, sorted. */
export async function keys(storage: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list('')) out.push(o.key);
  return out;
}
