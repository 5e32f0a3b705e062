/**
 * A directory tree: files, empty directories and symlinks (stored as links,
 * never followed). Sockets, FIFOs and devices are skipped with a warning.
 * Names are read as bytes (core/fs/name-bytes.ts), so a name that is not
 * UTF-8 is kept; files of one inode are marked as hard links of the first,
 * and files with holes as sparse.
 */
import { createReadStream, type BigIntStats } from 'node:fs';
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
import { ahead } from '../../core/util/ahead.js';
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
    yield* this.#walk('', context, new Map());
  }

  /** Depth first, names sorted; with `include`, directories only when they lead to an included entry. */
  async *#walk(dirRel: string, context: SourceContext, inodes: Map<string, string>): AsyncGenerator<SourceEntry> {
    const dir = dirRel === '' ? this.root : join(this.root, dirRel);
    let names: string[];
    try {
      names = (await readdir(fsPath(dir), { encoding: 'buffer' })).map(decodeName).sort();
    } catch (err) {
      throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot read directory ${dir}: ${errnoOf(err) ?? err}`, {
        cause: err,
      });
    }
    const listed = names.filter((name) => {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      // A restore's staging folder (a partial restore of a mounted folder stages inside it): never part of the data.
      return !this.#exclude?.(rel) && !(dirRel === '' && name.startsWith(STAGING_PREFIX));
    });
    const statOf = (name: string): Promise<BigIntStats | undefined> => {
      const path = join(dir, name);
      return lstat(fsPath(path), { bigint: true }).catch((err: unknown) => {
        if (errnoOf(err) === 'ENOENT') return undefined; // deleted since readdir
        throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot stat ${path}`, { cause: err });
      });
    };
    for await (const [name, info] of ahead(listed, STAT_AHEAD, statOf)) {
      context.signal?.throwIfAborted();
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const path = join(this.root, rel);
      if (!info) continue;
      const base = { path: rel, mode: Number(info.mode & 0o7777n), mtime: mtimeOfStamp(info), uid: Number(info.uid), gid: Number(info.gid) };
      if (info.isDirectory()) {
        if (!this.#include) {
          yield { ...base, type: 'directory', size: 0 };
          yield* this.#walk(rel, context, inodes);
          continue;
        }
        // Emit the directory only once something inside it is included.
        let announced = false;
        for await (const child of this.#walk(rel, context, inodes)) {
          if (!announced) {
            announced = true;
            yield { ...base, type: 'directory', size: 0 };
          }
          yield child;
        }
      } else if (this.#include && !this.#include(rel)) {
        continue;
      } else if (info.isSymbolicLink()) {
        yield { ...base, type: 'symlink', size: 0, linkTarget: decodeName(await readlink(fsPath(path), { encoding: 'buffer' })) };
      } else if (info.isFile()) {
        const changed = (what: LocalFileChange): void => this.#report(rel, what, context);
        // The backup reads `localFile` itself (read ahead, straight into its segments); `open` serves any other reader.
        const size = Number(info.size);
        const file = { ...base, type: 'file' as const, size, ...layoutOf(info, rel, inodes) };
        const localFile = { path, changed, stamp: stampOf(info) };
        yield { ...file, open: () => this.#open(path, rel, size, info.mtimeNs, context), localFile };
      } else {
        const kind = info.isSocket() ? 'socket' : info.isFIFO() ? 'fifo' : 'device';
        context.warn(`source "${this.name}": skipped ${kind} ${rel}`);
      }
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
/** Entries of a folder stat'ed at once ahead of the walk (core/util/ahead.ts). */
const STAT_AHEAD = 16;

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
