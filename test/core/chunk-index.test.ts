/** The repository's in-memory chunk index: lookups, growth, duplicates, and what an entry costs. */
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkIndex } from '../../core/repository/chunk-index.js';

const KEY = randomBytes(32);
const idOf = (n: number): Buffer => createHmac('sha256', KEY).update(String(n)).digest();

describe('ChunkIndex', () => {
  it('finds every chunk added, through many growths, and nothing else', () => {
    const index = new ChunkIndex(16);
    const count = 100_000;
    for (let n = 0; n < count; n++) expect(index.add(idOf(n), { pack: n >> 6, offset: (n * 1009) >>> 0, length: n + 1 })).toBe(true);
    expect(index.size).toBe(count);
    for (let n = 0; n < count; n += 7) expect(index.get(idOf(n))).toEqual({ pack: n >> 6, offset: (n * 1009) >>> 0, length: n + 1 });
    for (let n = count; n < count + 1000; n++) expect(index.has(idOf(n))).toBe(false);
  });

  it('keeps the first location of a chunk added twice', () => {
    const index = new ChunkIndex();
    expect(index.add(idOf(1), { pack: 1, offset: 0, length: 10 })).toBe(true);
    expect(index.add(idOf(1), { pack: 2, offset: 5, length: 10 })).toBe(false);
    expect(index.get(idOf(1))).toEqual({ pack: 1, offset: 0, length: 10 });
    expect(index.size).toBe(1);
  });

  it('gives its entries back in the order added', () => {
    const index = new ChunkIndex(4);
    for (let n = 0; n < 50; n++) index.add(idOf(n), { pack: 0, offset: n, length: 1 });
    const entries = [...index.entries()];
    expect(entries.map(([, at]) => at.offset)).toEqual([...Array(50).keys()]);
    expect(Buffer.from(entries[10]![0]).equals(idOf(10))).toBe(true);
  });

  it('costs well under 100 bytes per chunk once sized for its entries', () => {
    const count = 200_000;
    const index = new ChunkIndex(count);
    for (let n = 0; n < count; n++) index.add(idOf(n), { pack: 0, offset: 0, length: 1 });
    // 44 bytes of entry and 4 per slot, at a load between 3/8 and 3/4.
    expect(index.bytes / count).toBeLessThan(60);
    expect(index.bytes / count).toBeGreaterThanOrEqual(44);
  });

  it('refuses an id of the wrong length', () => {
    expect(() => new ChunkIndex().add(Buffer.alloc(16), { pack: 0, offset: 0, length: 1 })).toThrow(RangeError);
  });
});
