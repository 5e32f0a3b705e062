import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateSegment } from '../../core/pipeline/segmenter.js';
import { SegmentWorkers } from '../../core/pipeline/segment-workers.js';
import { dropSpares, sparesOf, startSpares, takeSpare } from '../../core/threads/spare-threads.js';
import { workerFile } from '../../core/threads/worker-file.js';

const SEGMENT_WORKER = workerFile('./segment-worker.js', new URL('../../core/pipeline/segment-workers.ts', import.meta.url).href);
const spec = { compression: { algorithm: 'zstd', level: 3 }, cipher: { name: 'xchacha20poly1305-secretstream', key: randomBytes(32) } };

afterEach(async () => {
  await dropSpares();
});

describe('spare threads', () => {
  it('a pool takes the threads started ahead, and they work with the codecs it gives them', async () => {
    SegmentWorkers.startAhead(2);
    expect(sparesOf(SEGMENT_WORKER)).toBe(2);
    const workers = new SegmentWorkers(spec, 2);
    try {
      expect(sparesOf(SEGMENT_WORKER)).toBe(0);
      const plain = allocateSegment(1 << 20);
      randomBytes(1 << 20).copy(plain);
      const sealed = await workers.seal({ index: 0, plain, context: 'ctx/0' });
      if (!('data' in sealed)) throw new Error('expected a sealed segment');
      const opened = await workers.open({
        stored: sealed.data,
        context: 'ctx/0',
        storedSize: sealed.data.length,
        sha256: sealed.sha256,
        plainSize: sealed.plainSize,
        what: 't:k',
      });
      expect(opened.equals(plain)).toBe(true);
    } finally {
      await workers.close();
    }
  });

  it('starts only what is missing, and dropSpares stops the ones nobody took', async () => {
    startSpares(SEGMENT_WORKER, 1);
    startSpares(SEGMENT_WORKER, 2);
    expect(sparesOf(SEGMENT_WORKER)).toBe(2);
    const taken = takeSpare(SEGMENT_WORKER)!;
    expect(sparesOf(SEGMENT_WORKER)).toBe(1);
    await dropSpares();
    expect(sparesOf(SEGMENT_WORKER)).toBe(0);
    expect(takeSpare(SEGMENT_WORKER)).toBeUndefined();
    // A taken thread is its taker's: dropping spares did not stop it.
    const reply = new Promise((resolve) => taken.once('message', resolve));
    taken.postMessage({ op: 'setup', spec });
    taken.postMessage({ id: 7, op: 'open', request: { file: '/nonexistent/segment', storedSize: 1, what: 't:k', context: 'c', sha256: '', plainSize: 0 } });
    expect(await reply).toMatchObject({ id: 7, error: { code: 'E_NOT_FOUND' } });
    await taken.terminate();
  });

  it('forgets a spare that failed to start: the taker starts its own', async () => {
    const missing = new URL('./no-such-worker.js', import.meta.url);
    startSpares(missing, 1);
    expect(sparesOf(missing)).toBe(1);
    await expect.poll(() => sparesOf(missing), { timeout: 5000 }).toBe(0);
    expect(takeSpare(missing)).toBeUndefined();
  });
});
