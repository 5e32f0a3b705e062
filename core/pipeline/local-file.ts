/**
 * The fast path for files a source hands as a path (SourceEntry.localFile):
 * no stream per file, positional reads straight into the segment buffers
 * (large reads, up to the segment's end), hashed where the bytes land. The
 * file is held to its announced size as tar requires: cut when it grew,
 * padded with zeros when it shrank, and the source's `changed` decides
 * whether that is fatal.
 */
import type { Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { LocalFile, LocalFileChange } from '../contracts.js';
import { errnoOf, FailsafeError } from '../errors.js';
import { mtimeMoved } from '../fs/mtime.js';
import { fsPath } from '../fs/name-bytes.js';
import type { Segmenter } from './segmenter.js';

export interface LocalRead {
  /** The source's name, for errors. */
  source: string;
  file: LocalFile;
  size: number;
  mtime: Date;
}

/** What a small file read whole into `into` (at least `size` bytes) gave. */
export interface SmallRead {
  length: number;
  change: LocalFileChange | undefined;
}

export async function readSmallFile(read: LocalRead, into: Buffer): Promise<SmallRead> {
  return withHandle(read, async (handle) => {
    let length = 0;
    while (length < read.size) {
      const { bytesRead } = await handle.read(into, length, read.size - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { length, change: changeOf(read, length, await handle.stat()) };
  });
}

/**
 * Reads the file into `out` at its current position, `size` bytes exactly,
 * and tells `onBytes` of each read. Resolves once the source accepted any change.
 */
export async function copyLocalFile(read: LocalRead, out: Segmenter, hash: Hash, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  const length = await withHandle(read, async (handle) => {
    let position = 0;
    // The bytes of the last read are hashed while the next read runs.
    let unhashed: Buffer | undefined;
    while (position < read.size) {
      signal?.throwIfAborted();
      const room = await out.room();
      const reading = handle.read(room.buffer, room.offset, Math.min(room.length, read.size - position), position);
      if (unhashed) hash.update(unhashed);
      const { bytesRead } = await reading;
      unhashed = room.buffer.subarray(room.offset, room.offset + bytesRead);
      if (bytesRead === 0) break;
      out.advance(bytesRead);
      position += bytesRead;
      onBytes(bytesRead);
    }
    if (unhashed) hash.update(unhashed);
    const change = changeOf(read, position, await handle.stat());
    if (change) read.file.changed(change);
    return position;
  });
  await padHashed(out, read.size - length, hash);
}

/** Zeros in place of the bytes a file lost while read, hashed as part of it. */
export async function padHashed(out: Segmenter, count: number, hash: Hash): Promise<void> {
  for (let missing = count; missing > 0;) {
    const room = await out.room();
    const n = Math.min(room.length, missing);
    room.buffer.fill(0, room.offset, room.offset + n);
    hash.update(room.buffer.subarray(room.offset, room.offset + n));
    out.advance(n);
    missing -= n;
  }
}

/** How the file moved away from its entry, once `length` bytes of it were read and it was stat'ed again as `after`. */
export function changeOf(read: Pick<LocalRead, 'size' | 'mtime'>, length: number, after: { size: number; mtimeMs: number }): LocalFileChange | undefined {
  if (length < read.size) return 'shrank';
  if (after.size !== read.size) return 'grew';
  if (mtimeMoved(after, read.mtime)) return 'changed';
  return undefined;
}

async function withHandle<T>(read: LocalRead, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  const failed = (err: unknown): FailsafeError =>
    new FailsafeError('E_SOURCE_READ', `source "${read.source}": cannot read ${read.file.path}: ${errnoOf(err) ?? err}`, { cause: err });
  const handle = await open(fsPath(read.file.path), 'r').catch((err: unknown) => {
    throw failed(err);
  });
  try {
    return await use(handle);
  } catch (err) {
    // Only the file's own system calls fail as a read error; a closed pipeline or an abort pass as they are.
    throw (err as NodeJS.ErrnoException).syscall === undefined ? err : failed(err);
  } finally {
    await handle.close();
  }
}
