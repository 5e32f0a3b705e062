/**
 * Writing a directory tree out of a restore's entries, refusing any path or
 * symlink that would lead outside the destination. A small file costs more
 * in system calls than in bytes, so each file is one open (with its mode),
 * its writes, a futimes and a close, and owner and mode calls only when they
 * change something. Small files are not fsynced here: the restore flushes the
 * whole staged tree once before the swap (core/fs/durable.ts); large ones are
 * sent on their way to the disk as soon as they are written, so that flush
 * overlaps the rest of the restore instead of following it. A hard link is
 * linked to the file this restore wrote for its first name; a sparse file's
 * runs of zeros are left as holes. Paths reach the file system as bytes
 * (core/fs/name-bytes.ts), so a name that is not UTF-8 comes back as it was.
 */
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, rmSync, writeSync } from 'node:fs';
import { link, lstat, lutimes, mkdir, open, rm, symlink, type FileHandle } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { RestoreEntry, SourceRestoreOptions } from '../../core/contracts.js';
import { errnoOf, FailsafeError } from '../../core/errors.js';
import { writeAll, writeStreamTo } from '../../core/fs/atomic.js';
import { BoundedTasks } from '../../core/pipeline/bounded-tasks.js';
import { owner, restoreOwner, type Owned } from '../../core/fs/owner.js';
import { assertNoSymlinkParents, safeJoin } from '../../core/fs/paths.js';
import { fileTime } from '../../core/fs/file-time.js';
import { fsPath } from '../../core/fs/name-bytes.js';
import { writeSparse } from '../../core/fs/sparse-write.js';

/** Files up to this size are written in one go, without a stream. */
const SMALL_FILE = 256 * 1024;

/**
 * Files from this size start on their way to the disk (fdatasync, two at a
 * time, in the background) as soon as they are written, so the flush of the
 * whole tree before the swap finds little left to write.
 */
const EARLY_FLUSH = 8 * 1024 * 1024;
const PARALLEL_EARLY_FLUSHES = 2;

/**
 * The directories this restore created itself, with mkdir succeeding where
 * nothing was: each is a real directory, and what is inside it is only what
 * this restore put there since. A path whose parent is one of them therefore
 * cannot pass through a symlink (one planted by the archive replaces its
 * path, which is then forgotten here), so it needs no lstat/realpath walk;
 * any other parent (one that existed before, or reached through a replaced
 * path) gets the full check.
 */
class MadeDirectories {
  readonly #made = new Set<string>();

  constructor(readonly root: string) {
    this.#made.add(root);
  }

  async checkParentOf(target: string): Promise<void> {
    if (!this.#made.has(dirname(target))) await assertNoSymlinkParents(this.root, target);
  }

  /** Creates a directory; remembered only when this call made it. */
  async make(target: string): Promise<void> {
    try {
      await mkdir(fsPath(target));
      this.#made.add(target);
      return;
    } catch (err) {
      const code = errnoOf(err);
      if (code !== 'EEXIST' && code !== 'ENOENT') throw err;
      // A symlink there would take the folder's mode, owner and time at the end, and its children, elsewhere.
      if (code === 'EEXIST' && (await lstat(fsPath(target))).isSymbolicLink()) {
        throw new FailsafeError('E_UNSAFE_PATH', `refusing unsafe archive path "${relative(this.root, target)}": it is a symlink in the destination`);
      }
    }
    await mkdir(fsPath(target), { recursive: true });
  }

  /** `target` (and anything under it) is about to be replaced by a file or a symlink. */
  forget(target: string): void {
    if (target === this.root) return;
    for (const dir of this.#made) if (dir === target || dir.startsWith(target + sep)) this.#made.delete(dir);
  }
}

/** Writes entries under `destination`, refusing any path or symlink that would lead outside it. */
export async function restoreTree(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number> {
  await mkdir(destination, { recursive: true });
  const made = new MadeDirectories(destination);
  const directories: StagedDirectory[] = [];
  const context: WriteContext = {
    made,
    umask: process.umask(),
    asRoot: process.getuid?.() === 0,
    flushes: new BoundedTasks(PARALLEL_EARLY_FLUSHES),
    files: new Set(),
  };
  try {
    const count = await writeEntries(entries, destination, options, context, directories);
    await context.flushes.drain();
    await finishDirectories(directories, context);
    return count;
  } finally {
    // No file handle outlives a failed restore.
    await context.flushes.settle();
  }
}

type StagedDirectory = { path: string; mode: number; mtime: Date; uid?: number; gid?: number };

async function writeEntries(
  entries: AsyncIterable<RestoreEntry>,
  destination: string,
  options: SourceRestoreOptions,
  context: WriteContext,
  directories: StagedDirectory[],
): Promise<number> {
  const { made } = context;
  let count = 0;
  for await (const entry of entries) {
    options.signal?.throwIfAborted();
    const target = safeJoin(destination, entry.path);
    await made.checkParentOf(target);
    if (entry.type === 'directory') {
      await made.make(target);
      directories.push({ path: target, mode: entry.mode, mtime: entry.mtime, ...owner(entry) });
    } else if (entry.type === 'symlink') {
      await replacing(target, made, () => symlink(fsPath(entry.linkTarget ?? ''), fsPath(target)));
      await restoreOwner(target, entry);
      await lutimes(fsPath(target), fileTime(entry.mtime), fileTime(entry.mtime)).catch(() => undefined);
    } else if (entry.hardLink !== undefined && context.files.has(entry.hardLink)) {
      // Its bytes are the first name's, which this restore wrote: the body is left unread (the archive skips it, checked).
      const first = safeJoin(destination, entry.hardLink);
      await made.checkParentOf(first);
      await replacing(target, made, () => link(fsPath(first), fsPath(target)));
    } else if (entry.sparse) {
      await writeFile(target, entry, context, (handle) => writeSparse(handle, entry.chunks?.() ?? entry.body ?? Readable.from([]), entry.size, options.signal));
    } else if (entry.size <= SMALL_FILE) {
      // `content` was checked before its entry came; a body is checked by reading it to its end. Either way, before anything is written.
      writeSmallFile(target, entry, entry.chunks ? await readAll(entry.chunks(), entry.size) : (entry.content ?? (await readAll(entry.body))), context);
    } else if (entry.chunks) {
      const chunks = entry.chunks();
      await writeFile(target, entry, context, (handle) => writeChunks(handle, chunks, options.signal));
    } else {
      const body = entry.body ?? Readable.from([]);
      await writeFile(target, entry, context, (handle) => writeStreamTo(handle, body, options.signal));
    }
    if (entry.type === 'file') context.files.add(entry.path);
    count++;
  }
  return count;
}

/** Directory modes and times last, deepest first: writing children changes them. */
async function finishDirectories(directories: StagedDirectory[], context: WriteContext): Promise<void> {
  // O_NOFOLLOW: never the mode of whatever a symlink put in a folder's place points to.
  for (const dir of directories.reverse()) {
    const handle = await open(fsPath(dir.path), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      if (context.asRoot && (dir.uid !== undefined || dir.gid !== undefined)) await handle.chown(dir.uid ?? -1, dir.gid ?? -1);
      await handle.chmod(dir.mode & 0o7777);
      await handle.utimes(fileTime(dir.mtime), fileTime(dir.mtime));
    } finally {
      await handle.close();
    }
  }
}

interface WriteContext {
  made: MadeDirectories;
  umask: number;
  asRoot: boolean;
  /** Early fdatasyncs of large files in flight; each closes its file. */
  flushes: BoundedTasks;
  /** Archive paths of the files written so far: a hard link to one of them is linked, not copied. */
  files: Set<string>;
}

/** The calls that set a file's owner and mode after its bytes, only those that change something. */
function metadataOf(entry: RestoreEntry, context: WriteContext): { mode: number; chown?: [number, number]; chmod: boolean } {
  const mode = entry.mode & 0o7777;
  const owned: Owned = owner(entry);
  const chown = context.asRoot && (owned.uid !== undefined || owned.gid !== undefined);
  // open() already set the mode unless the umask took bits away, or set-id bits need restoring after a chown (which clears them).
  return {
    mode,
    ...(chown ? { chown: [owned.uid ?? -1, owned.gid ?? -1] as [number, number] } : {}),
    chmod: (mode & context.umask) !== 0 || (mode & 0o7000) !== 0,
  };
}

/**
 * A small file in one go of synchronous calls (open with its mode, write,
 * [fchown], [fchmod], futimes, close): cheaper than a round trip through the
 * thread pool per call, and the main thread is mostly waiting on segments.
 */
function writeSmallFile(target: string, entry: RestoreEntry, content: Buffer, context: WriteContext): void {
  const meta = metadataOf(entry, context);
  let fd: number;
  try {
    fd = openSync(fsPath(target), 'wx', meta.mode);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
    context.made.forget(target);
    rmSync(fsPath(target), { force: true, recursive: true });
    fd = openSync(fsPath(target), 'wx', meta.mode);
  }
  try {
    for (let written = 0; written < content.length;) written += writeSync(fd, content, written, content.length - written);
    if (meta.chown) fchownSync(fd, ...meta.chown);
    if (meta.chmod) fchmodSync(fd, meta.mode);
    futimesSync(fd, fileTime(entry.mtime), fileTime(entry.mtime));
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `target` with `create`, which fails with EEXIST when something is
 * there (O_EXCL and symlink() never follow a symlink): only then is the old
 * entry removed, and forgotten as a made directory.
 */
async function replacing<T>(target: string, made: MadeDirectories, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  made.forget(target);
  await rm(fsPath(target), { force: true, recursive: true });
  return create();
}

async function writeFile(target: string, entry: RestoreEntry, context: WriteContext, write: (handle: FileHandle) => Promise<unknown>): Promise<void> {
  const meta = metadataOf(entry, context);
  const handle = await replacing(target, context.made, () => open(fsPath(target), 'wx', meta.mode));
  let handedOver = false;
  try {
    await write(handle);
    if (meta.chown) await handle.chown(...meta.chown);
    if (meta.chmod) await handle.chmod(meta.mode);
    await handle.utimes(fileTime(entry.mtime), fileTime(entry.mtime));
    if (entry.size >= EARLY_FLUSH) {
      await context.flushes.add(async () => {
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
      });
      handedOver = true;
    }
  } finally {
    if (!handedOver) await handle.close();
  }
}

/** Each chunk written whole before the next is asked for: the restore reuses a chunk's memory after that. */
async function writeChunks(handle: FileHandle, chunks: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void> {
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    await writeAll(handle, chunk);
  }
}

/**
 * The bytes of a small file; a chunk that is the whole file is used as it is
 * (written before the next entry is asked for). From `chunks()` (given the
 * file's `size`), any other chunk is copied before the next is asked for:
 * its memory may be reused from then on.
 */
async function readAll(body: AsyncIterable<unknown> | undefined, size?: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(size === undefined || chunk.length === size ? chunk : Buffer.from(chunk));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
