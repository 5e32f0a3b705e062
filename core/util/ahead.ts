/**
 * `items` with `work(item)` started up to `depth` items ahead of the one
 * handed out, in order: a directory walk waits for one stat at a time
 * otherwise, each a round trip through libuv's thread pool, and on an
 * unchanged backup those round trips are most of its time. Work already
 * started when the consumer stops is left to finish, its rejection ignored.
 */
export async function* ahead<T, R>(items: readonly T[], depth: number, work: (item: T) => Promise<R>): AsyncGenerator<[T, R]> {
  const pending: Promise<R>[] = [];
  let next = 0;
  for (const item of items) {
    while (next < items.length && pending.length < depth) {
      const started = work(items[next++]!);
      started.catch(() => undefined);
      pending.push(started);
    }
    yield [item, await pending.shift()!];
  }
}
