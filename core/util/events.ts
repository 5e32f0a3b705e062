/**
 * Progress as an async iterator for a UI. Progress comes far faster than a
 * screen refreshes, so the iterator keeps only the latest value not yet
 * taken: a slow consumer skips intermediate states instead of queueing them
 * (memory stays bounded).
 */
import type { EventEmitter } from 'node:events';

export function latestOf<T extends object>(emitter: EventEmitter, event: string, signal?: AbortSignal): AsyncIterableIterator<T> {
  let pending: T | undefined;
  let wake: (() => void) | undefined;
  let finished = false;
  const listener = (value: T): void => {
    pending = { ...value };
    wake?.();
  };
  const finish = (): void => {
    finished = true;
    emitter.off(event, listener);
    signal?.removeEventListener('abort', finish);
    wake?.();
  };
  emitter.on(event, listener);
  if (signal?.aborted) finish();
  else signal?.addEventListener('abort', finish, { once: true });

  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      while (pending === undefined && !finished) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (pending === undefined) return { done: true, value: undefined };
      const value = pending;
      pending = undefined;
      return { done: false, value };
    },
    async return(): Promise<IteratorResult<T>> {
      finish();
      pending = undefined;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
