import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ParallelMap } from '../../core/pipeline/parallel-map.js';
import { Segmenter, type PlainSegment } from '../../core/pipeline/segmenter.js';
import { SegmentWindow } from '../../core/pipeline/window.js';

/** Writes `chunks` through `segmenter` while `sink` reads its segments, as the collect stage does. */
async function feed(segmenter: Segmenter, chunks: Buffer[], sink: Writable): Promise<void> {
  const writing = (async () => {
    for (const chunk of chunks) await segmenter.write(chunk);
    await segmenter.end();
  })();
  writing.catch(() => undefined);
  await pipeline(segmenter.segments, sink);
  await writing;
}

async function collectSegments(chunks: Buffer[], size: number): Promise<PlainSegment[]> {
  const out: PlainSegment[] = [];
  await feed(new Segmenter(size), chunks, new Writable({ objectMode: true, write: (s: PlainSegment, _e, cb) => (out.push(s), cb()) }));
  return out;
}

describe('Segmenter', () => {
  it('cuts at exact segment boundaries whatever the chunking', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const chunks = [data.subarray(0, 7), data.subarray(7, 300), data.subarray(300, 301), data.subarray(301)];
    const segments = await collectSegments(chunks, 256);
    expect(segments.map((s) => s.data.length)).toEqual([256, 256, 256, 232]);
    expect(segments.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(Buffer.concat(segments.map((s) => s.data)).equals(data)).toBe(true);
  });

  it('emits one empty segment for an empty stream and no empty tail on an exact multiple', async () => {
    expect((await collectSegments([], 16)).map((s) => s.data.length)).toEqual([0]);
    expect((await collectSegments([Buffer.alloc(32)], 16)).map((s) => s.data.length)).toEqual([16, 16]);
  });
});

describe('ParallelMap', () => {
  it('keeps input order while running items concurrently, never more than the limit', async () => {
    let running = 0;
    let peak = 0;
    const map = new ParallelMap<number, number>(3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, (10 - n) * 3));
      running--;
      return n * 2;
    });
    const out: number[] = [];
    await pipeline(Readable.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), map, new Writable({ objectMode: true, write: (n: number, _e, cb) => (out.push(n), cb()) }));
    expect(out).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(peak).toBe(3);
  });

  it('fails the pipeline with the first error and leaves no task running', async () => {
    let settled = 0;
    const map = new ParallelMap<number, number>(2, async (n) => {
      await new Promise((r) => setTimeout(r, 5));
      settled++;
      if (n === 3) throw new Error('boom');
      return n;
    });
    await expect(pipeline(Readable.from([1, 2, 3, 4, 5, 6]), map, new Writable({ objectMode: true, write: (_n, _e, cb) => cb() }))).rejects.toThrow('boom');
    const seen = settled;
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(seen);
  });
});

describe('SegmentWindow', () => {
  it('holds the segmenter back until stored segments are released, whatever the stage buffers', async () => {
    const window = new SegmentWindow(3);
    const data = Buffer.alloc(100 * 16);
    const held: PlainSegment[] = [];
    let maxHeld = 0;
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 64, // a greedy stage: without the window it would take everything
      write: (segment: PlainSegment, _e, cb) => {
        held.push(segment);
        maxHeld = Math.max(maxHeld, held.length);
        // release later, as the store stage does once a segment is stored
        setTimeout(() => {
          held.splice(held.indexOf(segment), 1);
          window.release();
        }, 2);
        cb();
      },
    });
    await feed(new Segmenter(16, window), [data], sink);
    expect(maxHeld).toBe(3);
  });

  it('fills a recycled segment buffer again instead of allocating one, and only once recycled', async () => {
    const window = new SegmentWindow(2);
    // Above Buffer's 4 KiB pool threshold, so each buffer has its own ArrayBuffer.
    const segmenter = new Segmenter(8192, window);
    const buffers = new Set<ArrayBuffer>();
    const seen: Buffer[] = [];
    const sink = new Writable({
      objectMode: true,
      write: (segment: PlainSegment, _e, cb) => {
        // What the segment held when it arrived must not change before it is recycled.
        seen.push(Buffer.from(segment.data));
        buffers.add(segment.data.buffer as ArrayBuffer);
        setTimeout(() => {
          expect(segment.data.equals(seen[segment.index]!)).toBe(true);
          window.release();
          segmenter.recycle(segment.index);
        }, 2);
        cb();
      },
    });
    const data = Buffer.from(Array.from({ length: 8192 * 10 }, (_, i) => i % 251));
    await feed(segmenter, [data], sink);
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    expect(buffers.size).toBeLessThanOrEqual(3);
  });

  it('a failed pipeline cancels a segmenter waiting for a permit', async () => {
    const window = new SegmentWindow(1);
    const sink = new Writable({
      objectMode: true,
      write: (_s, _e, cb) => setTimeout(() => cb(new Error('target failed')), 5),
    });
    await expect(feed(new Segmenter(16, window), [Buffer.alloc(64)], sink)).rejects.toThrow('target failed');
    await expect(window.acquire()).rejects.toThrow('target failed');
  });
});
