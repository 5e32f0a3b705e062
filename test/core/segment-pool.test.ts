import { describe, expect, it } from 'vitest';
import { SegmentPool } from '../../core/read/segment-pool.js';

describe('segment pool', () => {
  it('makes at most its count of shared buffers, then hands released ones out in the order they were asked for', async () => {
    const pool = new SegmentPool(2, 1024);
    const [a, b] = [await pool.acquire(), await pool.acquire()];
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.buffer).not.toBe(b.buffer);
    const order: string[] = [];
    const first = pool.acquire().then((buffer) => (order.push('first'), buffer));
    const second = pool.acquire().then((buffer) => (order.push('second'), buffer));
    pool.release(b.subarray(10, 20)); // any view of it gives the whole buffer back
    expect((await first).buffer).toBe(b.buffer);
    expect((await first).length).toBe(1024);
    pool.release(a);
    expect((await second).buffer).toBe(a.buffer);
    expect(order).toEqual(['first', 'second']);
  });

  it('ignores buffers it did not make and buffers already free', async () => {
    const pool = new SegmentPool(2, 16);
    const a = await pool.acquire();
    pool.release(Buffer.alloc(16));
    pool.release(a);
    pool.release(a);
    const [x, y] = [await pool.acquire(), await pool.acquire()];
    expect(x.buffer).toBe(a.buffer);
    expect(y.buffer).not.toBe(a.buffer); // a second, new buffer: the double release did not hand `a` out twice
  });
});
