import { describe, expect, it } from 'vitest';
import { ChunkPrefetch } from '../../core/dedup/chunk-prefetch.js';

/** Reads that finish when told to, in any order, counting how many are open at once. */
function controlledReads() {
  const open = new Map<string, (value: Buffer) => void>();
  let most = 0;
  const read = (id: Buffer): Promise<Buffer> =>
    new Promise((done) => {
      open.set(id.toString(), done);
      most = Math.max(most, open.size);
    });
  const finish = (id: string): void => {
    open.get(id)!(Buffer.from(`data of ${id}`));
    open.delete(id);
  };
  return { read, finish, open, most: () => most };
}

describe('ChunkPrefetch', () => {
  it('hands chunks back in order however the reads finish, with at most `ahead` reads open', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => Buffer.from(`c${i}`));
    const reads = controlledReads();
    const prefetch = new ChunkPrefetch(ids, reads.read, 4);
    const got: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const pending = prefetch.get(i);
      // Finish the open reads newest first: the order handed back must not follow.
      for (const id of [...reads.open.keys()].reverse()) reads.finish(id);
      got.push((await pending).toString());
    }
    expect(got).toEqual(ids.map((id) => `data of ${id.toString()}`));
    expect(reads.most()).toBe(4);
  });

  it('drops the reads of positions skipped over (a body nobody read)', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => Buffer.from(`c${i}`));
    let reads = 0;
    const prefetch = new ChunkPrefetch(ids, async (id) => (reads++, Buffer.from(id)), 3);
    expect((await prefetch.get(0)).toString()).toBe('c0');
    expect((await prefetch.get(7)).toString()).toBe('c7');
    expect((await prefetch.get(8)).toString()).toBe('c8');
    // c0–c2 read ahead at first, then c7–c9: nothing between was read.
    expect(reads).toBe(6);
  });
});
