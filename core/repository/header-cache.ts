/**
 * Snapshot headers a long-lived process (the dashboard) has read, kept so
 * that the next `status` or `list` reads only the snapshots that are new:
 * with a thousand snapshots, reading every header again is most of what a
 * page of the dashboard waits for. An object is written once and never
 * changed in place, so a header is kept by its object's name, size and
 * modification time, and read again when any of them differs (a copy placed
 * over it). A store that reports no time is never cached. A one-shot command
 * keeps nothing: it lists once.
 */
import type { ObjectInfo } from '../contracts.js';
import type { Storage } from './storage.js';

/** Headers kept per target: far more than a deployment's history, bounded all the same. */
const MAX_KEPT = 50_000;

interface Kept<T> {
  size: number;
  modified: number;
  value: Promise<T>;
}

export class HeaderCache {
  readonly #kept = new Map<string, Kept<unknown>>();

  /** `read()`'s answer for the object, from the last read while the object is unchanged; a failed read is not kept. */
  get<T>(object: ObjectInfo, read: () => Promise<T>): Promise<T> {
    const modified = object.modified?.getTime();
    if (modified === undefined || Number.isNaN(modified)) return read();
    const kept = this.#kept.get(object.key);
    if (kept && kept.size === object.size && kept.modified === modified) return kept.value as Promise<T>;
    if (this.#kept.size >= MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    const value = read();
    this.#kept.set(object.key, { size: object.size, modified, value });
    value.catch(() => this.#kept.get(object.key)?.value === value && this.#kept.delete(object.key));
    return value;
  }
}

const caches = new WeakMap<Storage, HeaderCache>();

/** From now on, listing `storage` keeps the headers it reads. */
export function keepHeaders(storage: Storage): void {
  if (!caches.has(storage)) caches.set(storage, new HeaderCache());
}

/** `read()`, or its kept answer when `storage` keeps headers. */
export function cachedHeader<T>(storage: Storage, object: ObjectInfo, read: () => Promise<T>): Promise<T> {
  const cache = caches.get(storage);
  return cache ? cache.get(object, read) : read();
}
