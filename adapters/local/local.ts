/**
 * A folder on this machine: an internal disk, a USB disk, a mounted NAS share.
 * Puts are atomic (temp name beside, fsync, rename, fsync the directory).
 * With `requireMount: true` it refuses to touch a path that is not on a
 * filesystem mounted for it — the classic failure being a USB disk that is
 * not plugged in, and backups silently filling the root disk instead.
 */
import { createReadStream, type Stats } from 'node:fs';
import { lstat, open, readdir, readFile, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ByteRange, ObjectInfo, StorageAdapter, StorageOptions } from '../../core/contracts.js';
import { errnoOf, FailsafeError, fromNodeError } from '../../core/errors.js';
import { isTempName, writeFileAtomic } from '../../core/fs/atomic.js';
import { makeFolder } from '../../core/fs/make-folder.js';
import { defineAdapter } from '../../core/sdk/registry.js';

export interface LocalOptions {
  path: string;
  requireMount?: boolean;
}

/** How long a read trusts the last mount check (reading /proc/self/mountinfo costs ~0.4 ms). */
const MOUNT_CHECK_VALID_MS = 1000;

/** Files of a folder whose stats a listing asks for ahead of the one it yields: a few rounds of the thread pool's four threads. */
const STATS_AHEAD = 32;

export class LocalAdapter implements StorageAdapter {
  readonly type = 'local';
  readonly capabilities = { rangeRead: true, persistent: true } as const;
  readonly root: string;
  readonly #requireMount: boolean;
  readonly #target: string;
  /** When the mount was last found in place (`performance.now()`); reads trust it for a second. */
  #mountCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(options: LocalOptions, targetName = 'local') {
    this.root = resolve(options.path);
    this.#requireMount = options.requireMount ?? false;
    this.#target = targetName;
  }

  async put(key: string, body: Readable | Buffer, options: StorageOptions = {}): Promise<{ size: number }> {
    // Every write asks again: a daemon or dashboard outlives a mount, and a put after the disk went would fill the root disk.
    await this.#checkMount(true);
    const path = this.#path(key);
    await makeFolder(dirname(path));
    const size = await writeFileAtomic(path, body, options.signal ? { signal: options.signal } : {});
    return { size };
  }

  async get(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Readable> {
    await this.#checkMount();
    // Open first, so a missing key rejects here instead of erroring the stream later.
    const handle = await open(this.#path(key), 'r').catch((err: unknown) => {
      throw fromNodeError(err, `target "${this.#target}": get ${key}`);
    });
    const { range } = options;
    try {
      return createReadStream('', {
        fd: handle,
        highWaterMark: 1024 * 1024,
        ...(range ? { start: range.start, ...(range.end === undefined ? {} : { end: range.end }) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      // A range Node refuses: the stream never took the handle, so it is closed here, not left to the garbage collector.
      await handle.close();
      throw fromNodeError(err, `target "${this.#target}": get ${key}`);
    }
  }

  async getBuffer(key: string, options: StorageOptions = {}): Promise<Buffer> {
    await this.#checkMount();
    return readFile(this.#path(key), options.signal ? { signal: options.signal } : {}).catch((err: unknown) => {
      throw fromNodeError(err, `target "${this.#target}": get ${key}`);
    });
  }

  async filePath(key: string): Promise<string> {
    await this.#checkMount();
    return this.#path(key);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    await this.#checkMount();
    try {
      const info = await stat(this.#path(key));
      return info.isFile() ? { key, size: info.size, modified: info.mtime } : undefined;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.#checkMount();
    // Walk only the directory the prefix points into, then filter by the rest.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash === -1 ? '' : prefix.slice(0, slash);
    for await (const info of this.#walk(dirKey)) {
      if (info.key.startsWith(prefix)) yield info;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#checkMount();
    const path = this.#path(key);
    await rm(path, { force: true });
    // Tidy empty parents so deleted snapshots leave no empty folders behind.
    let dir = dirname(path);
    while (dir !== this.root && dir.startsWith(this.root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  /** Removes temp files left by a crash mid-put, older than `olderThanMs`. Returns how many. */
  async cleanupTemp(olderThanMs = 60 * 60 * 1000): Promise<number> {
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (isTempName(entry.name)) {
          const info = await lstat(path);
          if (Date.now() - info.mtimeMs >= olderThanMs) {
            await rm(path, { force: true });
            removed++;
          }
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  async *#walk(dirKey: string): AsyncGenerator<ObjectInfo> {
    const dir = dirKey === '' ? this.root : this.#path(dirKey);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    // Keys sort by their string; a directory's keys sort as `name/…`.
    const named = entries
      .map((e) => ({ e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    const listed = (i: number): boolean => named[i]!.e.isFile() && !isTempName(named[i]!.e.name);
    const stats = new Map<number, Promise<Stats | undefined>>();
    const statOf = (name: string): Promise<Stats | undefined> => stat(join(dir, name)).catch(() => undefined);
    let ahead = 0;
    for (let i = 0; i < named.length; i++) {
      const { e } = named[i]!;
      const key = dirKey === '' ? e.name : `${dirKey}/${e.name}`;
      if (e.isDirectory()) yield* this.#walk(key);
      else if (listed(i)) {
        // The next files' stats are already asked for: one at a time, a thousand objects were a thousand round trips
        // through the thread pool, each waiting for the event loop (~200 ms on a loaded machine, most of a first overview).
        for (ahead = Math.max(ahead, i); ahead < named.length && ahead <= i + STATS_AHEAD; ahead++) {
          if (listed(ahead)) stats.set(ahead, statOf(named[ahead]!.e.name));
        }
        const info = await stats.get(i);
        stats.delete(i);
        if (info) yield { key, size: info.size, modified: info.mtime };
      }
    }
  }

  #path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async #checkMount(fresh = false): Promise<void> {
    if (!this.#requireMount) return;
    // A read of an unmounted disk finds nothing rather than writing anywhere: a second-old answer is enough for it.
    if (!fresh && performance.now() - this.#mountCheckedAt < MOUNT_CHECK_VALID_MS) return;
    this.#mountCheckedAt = Number.NEGATIVE_INFINITY;
    const mountPoint = await mountPointOf(this.root);
    if (mountPoint === '/') {
      throw new FailsafeError(
        'E_NOT_MOUNTED',
        `target "${this.#target}": ${this.root} is not on a mounted filesystem of its own (is the disk plugged in and mounted?)`,
      );
    }
    this.#mountCheckedAt = performance.now();
  }
}

/** The mount point holding `path` (or its nearest existing ancestor), from /proc/self/mountinfo. */
export async function mountPointOf(path: string): Promise<string> {
  let existing = path;
  for (;;) {
    try {
      existing = await realpath(existing);
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
  }
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  let best = '/';
  for (const line of table.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mount = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const inside = mount === '/' || existing === mount || !relative(mount, existing).startsWith('..');
    if (inside && existing.startsWith(mount) && mount.length > best.length) best = mount;
  }
  return best;
}

export const localAdapter = defineAdapter({
  type: 'local',
  optionsSchema: z.object({ path: z.string().min(1), requireMount: z.boolean().default(false) }).strict(),
  create: (options, target) => new LocalAdapter(options, target),
});
