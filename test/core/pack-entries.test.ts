/** A restore's compact copy of a pack header: the entry the index names is found by its offset, and only if id and length agree. */
import { describe, expect, it } from 'vitest';
import { PackEntries } from '../../core/pack/pack-entries.js';
import type { PackEntry } from '../../core/pack/format.js';

const entry = (n: number, offset: number, length: number, plainLength: number): PackEntry => ({
  id: Buffer.alloc(32, n),
  kind: 'data',
  offset,
  length,
  plainLength,
});

describe('PackEntries', () => {
  // Out of offset order on purpose: the header's order is not trusted.
  const entries = new PackEntries([entry(3, 9000, 500, 700), entry(1, 0, 4000, 8000), entry(2, 4000, 5000, 5000)]);

  it('gives the plaintext length of the entry at an offset, whatever the order it came in', () => {
    expect(entries.plainLength(Buffer.alloc(32, 1), 0, 4000)).toBe(8000);
    expect(entries.plainLength(Buffer.alloc(32, 2), 4000, 5000)).toBe(5000);
    expect(entries.plainLength(Buffer.alloc(32, 3), 9000, 500)).toBe(700);
  });

  it('refuses another id, another length, an offset with no entry, or a short id', () => {
    expect(entries.plainLength(Buffer.alloc(32, 2), 0, 4000)).toBeUndefined();
    expect(entries.plainLength(Buffer.alloc(32, 1), 0, 3999)).toBeUndefined();
    expect(entries.plainLength(Buffer.alloc(32, 1), 1, 4000)).toBeUndefined();
    expect(entries.plainLength(Buffer.alloc(31, 1), 0, 4000)).toBeUndefined();
    expect(new PackEntries([]).plainLength(Buffer.alloc(32, 1), 0, 4000)).toBeUndefined();
  });
});
