/**
 * The crash-point sweep of a checkpoint save (the store users' long
 * operations keep their progress in): a process saving its fifth record, on
 * a local store that keeps 3, is killed with SIGKILL from outside once the
 * record's temp file is written (not yet renamed), once the record is stored,
 * and once the oldest record beyond `keep` is deleted. Then the next load
 * returns the previous checkpoint or the new one, whole, never a torn one;
 * every record in the history is whole; the next save numbers itself after
 * the newest and trims the history to `keep`; and the only leftover, a temp
 * file, is never listed and goes with the target's clean-up (prune's).
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { CheckpointStore, type Checkpoint } from '../../core/checkpoints/store.js';
import { expectEveryPoint, killAt, timesReached, tracePoints } from '../helpers/pause.js';

const SAVER = join(import.meta.dirname, '..', 'fixtures', 'checkpoint-save.js');

type Item = { item: number; payload: string };

/** The record as the fixture wrote it for `item`: anything else is torn or foreign. */
function expectWhole(checkpoint: Checkpoint | undefined, item: number): void {
  expect(checkpoint?.data).toEqual({ item, payload: `${item};`.repeat(20_000) });
}

/** Where the fifth save is killed, and the items a load then finds. */
const POINTS: { point: string; latest: number; history: number[]; temp: number }[] = [
  { point: 'file-temp-written:5', latest: 4, history: [2, 3, 4], temp: 1 },
  { point: 'checkpoint-written:5', latest: 5, history: [2, 3, 4, 5], temp: 0 },
  { point: 'checkpoint-old-deleted:2', latest: 5, history: [3, 4, 5], temp: 0 },
];

describe('checkpoint save killed at every crash point', () => {
  it('five saves keeping 3 pass every point listed for a save', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-checkpoints-'));
    const traced = await tracePoints([dir, '1', '5'], {}, SAVER);
    expect(traced.code).toBe(0);
    expectEveryPoint('checkpoint save', traced.points);
    const saved = (['file-temp-written', 'checkpoint-written', 'checkpoint-old-deleted'] as const).map((p) => timesReached(traced.points, p));
    expect(saved).toEqual([5, 5, 2]);
  });

  it.each(POINTS)('killed at $point, the next load returns checkpoint $latest whole', { timeout: 60_000 }, async ({ point, latest, history, temp }) => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-checkpoints-'));
    await killAt(point, [dir, '1', '5'], {}, SAVER);

    const adapter = new LocalAdapter({ path: dir });
    const warnings: string[] = [];
    const store = new CheckpointStore(adapter, { keep: 3, warn: (m) => void warnings.push(m) });
    expectWhole(await store.latest<Item>('batch'), latest);
    const records = await store.history('batch');
    expect(records.map((c) => (c.data as Item).item)).toEqual(history);
    for (const record of records) expectWhole(record, (record.data as Item).item);
    expect(warnings).toEqual([]);

    // The next save goes on after the newest, and the history is `keep` long again.
    await store.save({ operationId: 'batch', operationName: 'Batch', state: 'running', progress: 0.6, data: { item: 6, payload: `${6};`.repeat(20_000) } });
    const after = await new CheckpointStore(adapter, { keep: 3 }).history('batch');
    expect(after.map((c) => (c.data as Item).item)).toEqual([...history.slice(-2), 6]);
    expect(after[2]!.sequence).toBeGreaterThan(after[1]!.sequence);

    // A temp file is the one leftover: never listed, removed by the clean-up prune runs.
    expect(await adapter.cleanupTemp(0)).toBe(temp);
    const files = await readdir(join(dir, 'checkpoints', 'batch'));
    expect(files).toHaveLength(3);
  });
});
