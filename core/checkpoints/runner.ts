/**
 * A batch job that survives crashes in a few lines: process a list of items,
 * checkpointing every N items or T seconds; run it again after a crash and
 * it starts at the first item not covered by the newest checkpoint.
 */
import type { RetryOptions } from './retry-step.js';
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
  /** Retries each item's `process` (`store.retry`): every failed attempt lands in the operation's error history. Without it an item is tried once. */
  retry?: Omit<RetryOptions, 'signal'>;
  /** What an item that still fails does: `stop` the batch (default; the next run starts at that item) or `continue` with the next one (its failure stays in the error history). */
  onError?: 'stop' | 'continue';
}

export interface BatchResult {
  processed: number;
  /** Index the run started at: 0 for a fresh run, more when it resumed. */
  resumedAt: number;
  total: number;
  /** Items given up with `onError: 'continue'`. */
  failed: number;
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
  let failed = 0;
  try {
    for (; index < total; index++) {
      options.signal?.throwIfAborted();
      if (!(await processItem(options, index))) failed++;
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
  return { processed: total - resumedAt, resumedAt, total, failed };
}

/** One item, retried when the batch says so; false when it failed and the batch goes on without it. */
async function processItem<T>(options: BatchOptions<T>, index: number): Promise<boolean> {
  const { store, items } = options;
  const item = items[index]!;
  const context = { index, ...(typeof item === 'string' || typeof item === 'number' ? { item } : {}) };
  try {
    if (options.retry) {
      await store.retry(options.operationId, () => options.process(item, index), {
        ...options.retry,
        context,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } else {
      try {
        await options.process(item, index);
      } catch (err) {
        await store.recordError(options.operationId, err, { context });
        throw err;
      }
    }
    return true;
  } catch (err) {
    if (options.onError !== 'continue' || options.signal?.aborted) throw err;
    return false;
  }
}
