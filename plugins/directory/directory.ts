/**
 * A directory tree: files, empty directories and symlinks (stored as links,
 * never followed). Sockets, FIFOs and devices are skipped with a warning.
 * Names are read as bytes (core/fs/name-bytes.ts), so a name that is not
 * UTF-8 is kept; files of one inode are marked as hard links of the first,
 * and files with holes as sparse.
 */
import { createReadStream, lstatSync, type BigIntStats } from 'node:fs';
import { lstat, readdir, readlink, stat, open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { LiveLocation, LocalFileChange, RestoreEntry, SourceRestoreOptions, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { pathMatcher, type PathMatcher } from '../../core/fs/globs.js';
import { mtimeOfStamp, stampOf } from '../../core/fs/file-stamp.js';
import { decodeName, fsPath } from '../../core/fs/name-bytes.js';
import { STAGING_PREFIX } from '../../core/fs/paths.js';
import { errnoOf, FailsafeError } from '../../core/errors.js';
import { defineSource } from '../../core/sdk/registry.js';
import { restoreTree } from './restore.js';

export { restoreTree } from './restore.js';

export const directoryOptions = z
  .object({
    path: z.string().min(1),
    include: z.array(z.string()).optional(),
    exclude: z.array(z.string()).optional(),
  })
  .strict();
export type DirectoryOptions = z.infer<typeof directoryOptions>;

export class DirectorySource implements SourcePlugin {
  readonly type = 'directory';
  readonly name: string;
  readonly root: string;
  /** Files that changed while being read in the last backup (reported, not fatal). */
  readonly changedFiles: string[] = [];
  readonly #include: PathMatcher | undefined;
  readonly #exclude: PathMatcher | undefined;
  /** Present with `exclude`: the snapshot records it, and a later in-place restore leaves those paths be even when the YAML (or the command line) changed. */
  readonly describe?: () => Record<string, unknown>;

  constructor(options: DirectoryOptions, name = basename(options.path)) {
    this.name = name;
    this.root = options.path;
    this.#include = pathMatcher(options.include);
    this.#exclude = pathMatcher(options.exclude);
    const excluded = options.exclude ?? [];
    if (excluded.length > 0) this.describe = () => ({ exclude: excluded });
  }

  liveLocations(): LiveLocation[] {
    return [{ archivePath: '', livePath: this.root, kind: 'directory' }];
  }

  /** What `exclude` leaves out, as the walk below skips it: an in-place restore leaves it as it is. */
  leavesOut(path: string): boolean {
    return this.#exclude?.(path) ?? false;
  }

  async *entries(context: SourceContext): AsyncIterable<SourceEntry> {
    const info = await lstat(this.root).catch(() => undefined);
    if (!info || !info.isDirectory()) {
      throw new FailsafeError('E_SOURCE_MISSING', `source "${this.name}": ${this.root} ${info ? 'is not a directory' : 'does not exist'}`);
    }
    this.changedFiles.length = 0;
    yield* this.#walk(context);
  }

  /**
   * Depth first, names sorted; with `include`, a folder only once something inside it is included. One
   * generator for the whole tree (a folder is a frame on a stack, not a generator of its own that every
   * entry below it passes through), and each entry stat'ed synchronously: an unchanged backup is mostly
   * this loop, and a stat through the thread pool costs its promise, a thread woken and a callback, ~3x
   * the CPU of the call itself (docs/performance.md, twelfth measurement).
   */
  async *#walk(context: SourceContext): AsyncGenerator<SourceEntry> {
    const inodes = new Map<string, string>();
    const pathOf = underRoot(this.root);
    const stack: Folder[] = [{ rel: '', names: await this.#list(''), next: 0 }];
    while (stack.length > 0) {
      const folder = stack[stack.length - 1]!;
      const name = folder.names[folder.next++];
      if (name === undefined) {
        stack.pop();
        continue;
      }
      context.signal?.throwIfAborted();
      const rel = folder.rel === '' ? name : `${folder.rel}/${name}`;
      const path = pathOf(rel);
      const info = this.#stat(path);
      if (!info) continue;
      const base = { path: rel, mode: Number(info.mode & 0o7777n), mtime: mtimeOfStamp(info), uid: Number(info.uid), gid: Number(info.gid) };
      if (info.isDirectory()) {
        const entry: SourceEntry = { ...base, type: 'directory', size: 0 };
        // Without `include` a folder is emitted at once; with it, held until something inside it is (below).
        if (!this.#include) yield entry;
        stack.push({ rel, names: await this.#list(rel), next: 0, ...(this.#include ? { held: entry } : {}) });
        continue;
      }
      if (this.#include && !this.#include(rel)) continue;
      if (!info.isFile() && !info.isSymbolicLink()) {
        const kind = info.isSocket() ? 'socket' : info.isFIFO() ? 'fifo' : 'device';
        context.warn(`source "${this.name}": skipped ${kind} ${rel}`);
        continue;
      }
      for (const above of stack) {
        if (above.held) yield above.held;
        delete above.held;
      }
      if (info.isSymbolicLink()) {
        yield { ...base, type: 'symlink', size: 0, linkTarget: decodeName(await readlink(fsPath(path), { encoding: 'buffer' })) };
        continue;
      }
      const changed = (what: LocalFileChange): void => this.#report(rel, what, context);
      // The backup reads `localFile` itself (read ahead, straight into its segments); `open` serves any other reader.
      const size = Number(info.size);
      const file = { ...base, type: 'file' as const, size, ...layoutOf(info, rel, inodes) };
      const localFile = { path, changed, stamp: stampOf(info) };
      yield { ...file, open: () => this.#open(path, rel, size, info.mtimeNs, context), localFile };
    }
  }

  /** A folder's names, sorted, without what `exclude` leaves out. */
  async #list(dirRel: string): Promise<string[]> {
    const dir = dirRel === '' ? this.root : join(this.root, dirRel);
    let names: string[];
    try {
      names = (await readdir(fsPath(dir), { encoding: 'buffer' })).map(decodeName).sort();
    } catch (err) {
      throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot read directory ${dir}: ${errnoOf(err) ?? err}`, {
        cause: err,
      });
    }
    return names.filter((name) => {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      // A restore's staging folder (a partial restore of a mounted folder stages inside it): never part of the data.
      return !this.#exclude?.(rel) && !(dirRel === '' && name.startsWith(STAGING_PREFIX));
    });
  }

  /** An entry's own metadata (links not followed), or undefined when it was deleted since its folder was listed. */
  #stat(path: string): BigIntStats | undefined {
    try {
      return lstatSync(fsPath(path), { bigint: true, throwIfNoEntry: false });
    } catch (err) {
      throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot stat ${path}`, { cause: err });
    }
  }

  #report(rel: string, what: LocalFileChange, context: SourceContext): void {
    this.changedFiles.push(rel);
    context.warn(`source "${this.name}": ${rel} ${what} while being read; the copy may be inconsistent`);
  }

  /**
   * Exactly `size` bytes, as tar must have: a file that grew is cut at its
   * old size, one that shrank is padded with zeros (as GNU tar does); both are
   * reported, as is a file modified while read.
   */
  #open(path: string, rel: string, size: number, mtimeNs: bigint, context: SourceContext): Readable {
    const report = (what: LocalFileChange): void => this.#report(rel, what, context);
    const name = this.name;
    async function* read(): AsyncGenerator<Buffer> {
      let delivered = 0;
      const handle = await open(fsPath(path), 'r').catch((err: unknown) => {
        throw new FailsafeError('E_SOURCE_READ', `source "${name}": cannot read ${path}: ${errnoOf(err) ?? err}`, { cause: err });
      });
      try {
        if (size > 0) {
          const stream = createReadStream('', { fd: handle, autoClose: false, start: 0, end: size - 1, highWaterMark: 1024 * 1024 });
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            delivered += chunk.length;
            yield chunk;
          }
        }
        const after = await handle.stat({ bigint: true });
        if (delivered < size) {
          report('shrank');
          yield Buffer.alloc(size - delivered);
        } else if (after.size !== BigInt(size)) report('grew');
        else if (after.mtimeNs !== mtimeNs) report('changed');
      } catch (err) {
        if (err instanceof FailsafeError) throw err;
        throw new FailsafeError('E_SOURCE_READ', `source "${name}": cannot read ${path}: ${errnoOf(err) ?? err}`, { cause: err });
      } finally {
        await handle.close();
      }
    }
    return Readable.from(read(), { objectMode: false });
  }

  async restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number> {
    return restoreTree(entries, destination, options);
  }

  async check(restoredPath: string): Promise<void> {
    const info = await stat(restoredPath).catch(() => undefined);
    if (!info?.isDirectory()) throw new FailsafeError('E_CHECK_FAILED', `source "${this.name}": ${restoredPath} is not a directory after restore`);
  }

  async checkLive(): Promise<void> {
    await this.check(this.root);
  }
}

/** Files this size and up with fewer blocks than bytes are marked sparse: below it, holes save nothing worth a second write path. */
const SPARSE_FROM = 64 * 1024;
/** A folder being walked: its names, the next to visit, and (with `include`) its entry until something inside it is emitted. */
interface Folder {
  rel: string;
  names: string[];
  next: number;
  held?: SourceEntry;
}

/** A path under `root` by string: `join` would normalize each of a tree's paths again, and a walk's names hold no `/`, `.` or `..`. */
function underRoot(root: string): (rel: string) => string {
  const top = join(root, '.');
  if (top === '.') return (rel) => rel;
  const prefix = top.endsWith('/') ? top : `${top}/`;
  return (rel) => prefix + rel;
}

/**
 * A file's hard link (the first path seen with its device and inode, when
 * it has more than one name) and whether it has holes. `inodes` holds the
 * first path of each multiply-linked inode met so far in this source.
 */
function layoutOf(info: BigIntStats, rel: string, inodes: Map<string, string>): { hardLink?: string; sparse?: boolean } {
  const sparse = info.size >= BigInt(SPARSE_FROM) && info.blocks * 512n < info.size ? { sparse: true } : {};
  if (info.nlink < 2n) return sparse;
  const key = `${info.dev}:${info.ino}`;
  const first = inodes.get(key);
  if (first === undefined) inodes.set(key, rel);
  return first === undefined ? sparse : { ...sparse, hardLink: first };
}

export const directorySource = defineSource({
  type: 'directory',
  optionsSchema: directoryOptions,
  defaultName: (options) => basename(options.path),
  create: (options, name) => new DirectorySource(options, name),
});
