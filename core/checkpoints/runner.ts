/**
 * A batch job that survives crashes in a few lines: process a list of items,
 * checkpointing every N items or T seconds; run it again after a crash and
 * it starts at the first item not covered by the newest checkpoint.
 */
import type { CheckpointStore } from './store.js';

export interface BatchProgress {
  /** Index of the next item to process. */
  next: number;
  total: number;
}

export interface BatchOptions<T> {
  store: CheckpointStore;
  operationId: string;
  operationName?: string;
  items: readonly T[];
  process: (item: T, index: number) => unknown;
  /** Checkpoint after this many items (default 10)… */
  everyItems?: number;
  /** …or when this many milliseconds passed since the last checkpoint (default 60 000), whichever comes first. */
  everyMs?: number;
  signal?: AbortSignal;
}

export interface BatchResult {
  processed: number;
  /** Index the run started at: 0 for a fresh run, more when it resumed. */
  resumedAt: number;
  total: number;
}

/**
 * Runs `process` over `items` from where the last run stopped. Items between
 * the newest checkpoint and a crash run again, so `process` should be
 * idempotent for them (at most `everyItems` items).
 */
export async function runBatch<T>(options: BatchOptions<T>): Promise<BatchResult> {
  const { store, operationId, items } = options;
  const operationName = options.operationName ?? operationId;
  const everyItems = Math.max(1, options.everyItems ?? 10);
  const everyMs = options.everyMs ?? 60_000;
  const total = items.length;
  const previous = await store.latest<BatchProgress>(operationId);
  const resumedAt = previous && previous.state !== 'completed' && previous.data.total === total ? Math.min(previous.data.next, total) : 0;
  const save = (state: 'running' | 'completed' | 'failed' | 'recovering', next: number, metadata: Record<string, unknown> = {}) =>
    store.save<BatchProgress>({ operationId, operationName, state, progress: total === 0 ? 1 : next / total, data: { next, total }, metadata });

  await save(resumedAt > 0 ? 'recovering' : 'running', resumedAt);
  let index = resumedAt;
  let sinceSave = 0;
  let savedAt = Date.now();
  try {
    for (; index < total; index++) {
      options.signal?.throwIfAborted();
      await options.process(items[index]!, index);
      sinceSave++;
      if (sinceSave >= everyItems || Date.now() - savedAt >= everyMs) {
        await save('running', index + 1);
        sinceSave = 0;
        savedAt = Date.now();
      }
    }
  } catch (err) {
    await save('failed', index, { error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
    throw err;
  }
  await save('completed', total);
  return { processed: total - resumedAt, resumedAt, total };
}
