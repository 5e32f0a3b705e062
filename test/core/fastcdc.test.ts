/** The content-defined chunker: sizes, streaming, stability under edits, and its key. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FastCdc, spreadMask, type ChunkSizes } from '../../core/chunking/fastcdc.js';
import { gearTable } from '../../core/chunking/gear.js';

const KEY = Buffer.alloc(32, 1);
const SMALL: ChunkSizes = { min: 2048, avg: 8192, max: 32768 };

/** Deterministic pseudo-random bytes (SHA-256 in counter mode), so a failure can be replayed. */
function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let block = 0, at = 0; at < length; block++, at += 32) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

function chunk(data: Uint8Array, sizes: ChunkSizes = SMALL, key: Uint8Array = KEY, pieces: number[] = [data.length]): number[] {
  const cdc = new FastCdc(gearTable(key), sizes);
  const lengths: number[] = [];
  let at = 0;
  for (let p = 0; at < data.length; p++) {
    const size = pieces[p % pieces.length]!;
    lengths.push(...cdc.push(data.subarray(at, at + size)));
    at += size;
  }
  const last = cdc.finish();
  if (last > 0) lengths.push(last);
  return lengths;
}

/** The rules written plainly, byte by byte, with no skipping and no stretches: the optimized chunker must agree. */
function reference(data: Uint8Array, { min, avg, max }: ChunkSizes, key: Uint8Array): number[] {
  const gear = gearTable(key);
  const bits = Math.log2(avg);
  const hard = spreadMask(bits + 2);
  const easy = spreadMask(bits - 2);
  const cuts: number[] = [];
  for (let start = 0; start < data.length;) {
    const remaining = data.length - start;
    let length = Math.min(max, remaining);
    let hash = 0;
    for (let offset = min; offset < Math.min(max, remaining); offset++) {
      hash = ((hash << 1) + gear[data[start + offset]!]!) >>> 0;
      if ((hash & (offset < avg ? hard : easy)) === 0) {
        length = offset + 1;
        break;
      }
    }
    cuts.push(length);
    start += length;
  }
  return cuts;
}

/** Chunks as content digests, to compare two streams' chunks whatever their positions. */
function digests(data: Uint8Array, lengths: number[]): string[] {
  const out: string[] = [];
  let at = 0;
  for (const length of lengths) {
    out.push(
      createHash('sha256')
        .update(data.subarray(at, at + length))
        .digest('hex'),
    );
    at += length;
  }
  return out;
}

describe('FastCDC chunker', () => {
  it('cuts where the plain byte-by-byte rules cut', () => {
    for (const [seed, size] of [
      ['a', 1_000_000],
      ['b', 70_000],
      ['c', 100],
      ['d', 0],
    ] as const) {
      const data = bytes(size, seed);
      expect(chunk(data), seed).toEqual(reference(data, SMALL, KEY));
    }
    // Long runs of one byte value never meet the mask: every chunk is cut at the maximum.
    const zeros = Buffer.alloc(200_000);
    expect(chunk(zeros)).toEqual(reference(zeros, SMALL, KEY));
    expect(
      chunk(zeros)
        .slice(0, -1)
        .every((n) => n === SMALL.max),
    ).toBe(true);
  });

  it('keeps every chunk between min and max, and averages near the target', () => {
    const data = bytes(8 * 1024 * 1024, 'sizes');
    const lengths = chunk(data);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(SMALL.min);
      expect(length).toBeLessThanOrEqual(SMALL.max);
    }
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(SMALL.avg * 0.75);
    expect(mean).toBeLessThan(SMALL.avg * 1.5);
  });

  it('finds the same cuts whatever the pieces the stream arrives in', () => {
    const data = bytes(600_000, 'pieces');
    const whole = chunk(data);
    for (const pieces of [[7, 4093, 65_536], [SMALL.min], [SMALL.max + 1], [100_000, 1]])
      expect(chunk(data, SMALL, KEY, pieces), String(pieces)).toEqual(whole);
    const head = data.subarray(0, 60_000);
    expect(chunk(head, SMALL, KEY, [1])).toEqual(chunk(head));
  });

  it('an insertion, a deletion or an overwrite in the middle changes at most a few chunks', () => {
    const data = bytes(4 * 1024 * 1024, 'edits');
    const before = digests(data, chunk(data));
    const middle = data.length / 2;
    const edits = {
      insert: Buffer.concat([data.subarray(0, middle), bytes(100, 'inserted'), data.subarray(middle)]),
      delete: Buffer.concat([data.subarray(0, middle), data.subarray(middle + 5000)]),
      overwrite: Buffer.concat([data.subarray(0, middle), bytes(3000, 'new'), data.subarray(middle + 3000)]),
      prepend: Buffer.concat([bytes(10, 'head'), data]),
    };
    for (const [name, edited] of Object.entries(edits)) {
      const after = digests(edited, chunk(edited));
      const kept = new Set(before);
      const changed = after.filter((d) => !kept.has(d)).length;
      expect(changed, name).toBeGreaterThanOrEqual(1);
      expect(changed, name).toBeLessThanOrEqual(3);
      // Nearly everything else is found again.
      expect(after.length - changed, name).toBeGreaterThanOrEqual(before.length - 4);
    }
  });

  it('cuts depend on the repository key: another key, other cuts; the same key, the same', () => {
    const data = bytes(1_000_000, 'keys');
    expect(chunk(data, SMALL, Buffer.alloc(32, 1))).toEqual(chunk(data, SMALL, Buffer.alloc(32, 1)));
    expect(chunk(data, SMALL, Buffer.alloc(32, 2))).not.toEqual(chunk(data, SMALL, Buffer.alloc(32, 1)));
    expect(() => gearTable(Buffer.alloc(8))).toThrow(RangeError);
  });

  it('refuses sizes that are not min < avg < max with a power-of-two average', () => {
    const gear = gearTable(randomBytes(32));
    expect(() => new FastCdc(gear, { min: 4096, avg: 3000, max: 9000 })).toThrow(RangeError);
    expect(() => new FastCdc(gear, { min: 8192, avg: 8192, max: 9000 })).toThrow(RangeError);
    expect(() => new FastCdc(gear, { min: 1024, avg: 8192, max: 8192 })).toThrow(RangeError);
  });

  it('spreads a mask of exactly the bits asked for', () => {
    for (const bits of [6, 16, 18, 20, 22, 24]) {
      const mask = spreadMask(bits);
      let count = 0;
      for (let v = mask; v !== 0; v &= v - 1) count++;
      expect(count).toBe(bits);
    }
  });
});
