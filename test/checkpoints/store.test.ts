import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { runBatch } from '../../core/checkpoints/runner.js';
import { CheckpointStore } from '../../core/checkpoints/store.js';
import { Storage } from '../../core/repository/storage.js';

const base = { operationId: 'photos', operationName: 'Photo Processing' } as const;

describe('CheckpointStore', () => {
  it('saves, loads and finds the latest checkpoint, numbering saves across store instances', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-cp-'));
    const store = new CheckpointStore(new LocalAdapter({ path: dir }));
    const first = await store.save({ ...base, state: 'running', progress: 0.25, data: { processed: 25 } });
    const second = await store.save({ ...base, state: 'paused', progress: 0.5, data: { processed: 50 }, metadata: { host: 'a' } });
    expect(first.sequence).toBe(1);
    expect(second.sequence).toBe(2);
    expect(await store.load(first.checkpointId)).toEqual(first);
    // A new process (a new store) continues the numbering instead of overwriting.
    const again = new CheckpointStore(new LocalAdapter({ path: dir }));
    expect(await again.latest('photos')).toEqual(second);
    const third = await again.save({ ...base, state: 'running', progress: 0.6 });
    expect(third.sequence).toBe(3);
    expect((await again.history('photos')).map((c) => c.sequence)).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, 'checkpoints', 'photos'))).toEqual(['000000000001.json', '000000000002.json', '000000000003.json']);
  });

  it('keeps the newest N records of each operation', async () => {
    const store = new CheckpointStore(new MemoryAdapter(), { keep: 3 });
    for (let i = 1; i <= 7; i++) await store.save({ ...base, state: 'running', progress: i / 10 });
    await store.save({ operationId: 'other', operationName: 'Other', state: 'running', progress: 0 });
    expect((await store.history('photos')).map((c) => c.sequence)).toEqual([5, 6, 7]);
    expect((await store.history('other')).map((c) => c.sequence)).toEqual([1]);
  });

  it('skips a torn or foreign record with a warning and falls back to the last good one', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const warnings: string[] = [];
    const store = new CheckpointStore(storage, { warn: (m) => warnings.push(m) });
    const good = await store.save({ ...base, state: 'running', progress: 0.4, data: { processed: 40 } });
    await storage.put('checkpoints/photos/000000000002.json', Buffer.from('{"operationId":"photos","operationNa'));
    await storage.put('checkpoints/photos/000000000003.json', Buffer.from(JSON.stringify({ ...good, sequence: 9 })));
    const fresh = new CheckpointStore(storage, { warn: (m) => warnings.push(m) });
    expect(await fresh.latest('photos')).toEqual(good);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/checkpoints\/photos\/000000000003\.json is unreadable/);
    // The next save numbers itself after every record present, readable or not.
    expect((await fresh.save({ ...base, state: 'running', progress: 0.5 })).sequence).toBe(4);
  });

  it('refuses bad ids, states and progress with E_USAGE', async () => {
    const store = new CheckpointStore(new MemoryAdapter());
    await expect(store.save({ ...base, operationId: '../x', state: 'running', progress: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(store.save({ ...base, state: 'done' as never, progress: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(store.save({ ...base, state: 'running', progress: 1.5 })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(() => new CheckpointStore(new MemoryAdapter(), { keep: 0 })).toThrow(/keep/);
  });

  it('resume marks recovering, then completed with the result, or failed with the error', async () => {
    const store = new CheckpointStore(new MemoryAdapter());
    expect(await store.canResume('photos')).toBe(false);
    await store.save({ ...base, state: 'running', progress: 0.5, data: { processed: 50 } });
    expect(await store.canResume('photos')).toBe(true);
    const seen: string[] = [];
    const result = await store.resume<string, { processed: number }>('photos', async (checkpoint) => {
      seen.push(checkpoint.state);
      return `from ${checkpoint.data.processed}`;
    });
    expect(result).toBe('from 50');
    expect(seen).toEqual(['recovering']);
    expect(await store.latest('photos')).toMatchObject({ state: 'completed', progress: 1, data: { processed: 50 } });
    expect(await store.canResume('photos')).toBe(false);
    await expect(store.resume('photos', () => 1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });

    await store.save({ operationId: 'export', operationName: 'Export', state: 'failed', progress: 0.2 });
    await expect(store.resume('export', () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(await store.latest('export')).toMatchObject({ state: 'failed', progress: 0.2, metadata: { error: 'disk full' } });
  });

  it('lists recoverable operations, clears completed ones and reports stats', async () => {
    const store = new CheckpointStore(new MemoryAdapter());
    await store.save({ ...base, state: 'running', progress: 0.3 });
    await store.save({ operationId: 'export', operationName: 'Export', state: 'completed', progress: 1 });
    await store.save({ operationId: 'import', operationName: 'Import', state: 'running', progress: 0.1 });
    await store.save({ operationId: 'import', operationName: 'Import', state: 'paused', progress: 0.2 });
    const recoverable = await store.recoverable();
    expect(recoverable.map((o) => [o.operationId, o.state, o.progress])).toEqual([
      ['import', 'paused', 0.2],
      ['photos', 'running', 0.3],
    ]);
    const stats = await store.stats();
    expect(stats).toMatchObject({ checkpoints: 4, operations: 3, activeOperations: 2, byState: { running: 1, paused: 1, completed: 1 } });
    expect(stats.bytes).toBeGreaterThan(100);
    expect(await store.clearCompleted()).toBe(1);
    expect((await store.operations()).map((o) => o.operationId).sort()).toEqual(['import', 'photos']);
  });
});

describe('runBatch', () => {
  it('resumes a crashed batch at its last checkpoint and completes', async () => {
    const store = new CheckpointStore(new MemoryAdapter());
    const items = Array.from({ length: 100 }, (_, i) => `photo-${i}.jpg`);
    const done: number[] = [];
    const crashing = runBatch({
      store,
      operationId: 'batch-001',
      items,
      everyItems: 10,
      process: (_item, index) => {
        if (index === 37) throw new Error('power cut');
        done.push(index);
      },
    });
    await expect(crashing).rejects.toThrow('power cut');
    expect(await store.latest('batch-001')).toMatchObject({ state: 'failed', data: { next: 37, total: 100 }, progress: 0.37 });

    const second: number[] = [];
    const result = await runBatch({ store, operationId: 'batch-001', items, everyItems: 10, process: (_item, index) => void second.push(index) });
    expect(result).toEqual({ processed: 63, resumedAt: 37, total: 100, failed: 0 });
    expect(second[0]).toBe(37);
    expect([...done, ...second]).toEqual(items.map((_, i) => i));
    expect(await store.latest('batch-001')).toMatchObject({ state: 'completed', progress: 1 });
    // A completed batch run again starts over.
    expect((await runBatch({ store, operationId: 'batch-001', items, process: () => undefined })).resumedAt).toBe(0);
  });

  it('checkpoints on time as well as on count', async () => {
    const store = new CheckpointStore(new MemoryAdapter(), { keep: 1000 });
    await runBatch({
      store,
      operationId: 'slow',
      items: [1, 2, 3, 4],
      everyItems: 1000,
      everyMs: 15,
      process: () => new Promise((resolve) => setTimeout(resolve, 20)),
    });
    const states = (await store.history('slow')).map((c) => `${c.state}:${c.data.next}`);
    expect(states).toEqual(['running:0', 'running:1', 'running:2', 'running:3', 'running:4', 'completed:4']);
  });
});
