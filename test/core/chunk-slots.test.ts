/**
 * Cutting into shared slots (core/dedup/chunk-slots.ts) must find the very
 * cut points the streaming chunker finds, whatever the read sizes, so a v2
 * repository's chunk ids do not depend on how a source hands over its bytes;
 * and the slots bound what is in flight.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FastCdc } from '../../core/chunking/fastcdc.js';
import { gearTable } from '../../core/chunking/gear.js';
import { chunkStream } from '../../core/dedup/chunk-files.js';
import { ChunkSlots, chunkIntoSlots } from '../../core/dedup/chunk-slots.js';

const SIZES = { min: 2048, avg: 8192, max: 32768 };
const gear = gearTable(Buffer.alloc(32, 3));

function data(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

/** `bytes` in pieces of random sizes from 1 byte to twice the maximum chunk. */
function pieces(bytes: Buffer, seed: number): Buffer[] {
  let state = seed;
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    state = (state * 1103515245 + 12345) >>> 0;
    const n = 1 + (state % (2 * SIZES.max));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

const digest = (chunk: Uint8Array): Buffer => createHash('sha256').update(chunk).digest();

describe('chunkIntoSlots', () => {
  it('cuts the same chunks as the streaming chunker for any piece sizes', async () => {
    for (const seed of [1, 2, 3]) {
      const bytes = data(600_000 + seed * 7919, seed);
      const expected = (await chunkStream(Readable.from([bytes]), new FastCdc(gear, SIZES), async (c) => digest(c))).ids;
      const slots = new ChunkSlots(SIZES.max, 3);
      let inFlight = 0;
      let most = 0;
      const { ids, bytes: read } = await chunkIntoSlots(Readable.from(pieces(bytes, seed)), new FastCdc(gear, SIZES), slots, async (slot, length) => {
        most = Math.max(most, ++inFlight);
        const id = digest(slot.buffer.subarray(0, length));
        // Let the reader run ahead until the slots run out.
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        slot.release();
        return id;
      });
      expect(read).toBe(bytes.length);
      expect((await ids).map((id) => id.toString('hex'))).toEqual(expected.map((id) => id.toString('hex')));
      expect(expected.length).toBeGreaterThan(10);
      expect(most).toBeLessThanOrEqual(3);
    }
  });

  it('stops reading once a chunk in flight has failed', async () => {
    const slots = new ChunkSlots(SIZES.max, 2);
    let taken = 0;
    const run = chunkIntoSlots(Readable.from(pieces(data(2_000_000, 9), 9)), new FastCdc(gear, SIZES), slots, async (slot) => {
      taken++;
      slot.release();
      throw new Error('the store is gone');
    });
    await expect(run.then((r) => r.ids)).rejects.toThrow('the store is gone');
    // Far fewer than the ~240 chunks of the whole stream.
    expect(taken).toBeLessThan(10);
  });
});
