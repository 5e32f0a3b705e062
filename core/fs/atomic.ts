/**
 * Crash-safe file writes: temp name beside the target, fsync, rename, fsync
 * the directory. After a crash either the old file or the new one is there,
 * never a torn one; temp names start with TEMP_PREFIX so listings and
 * clean-up can recognise leftovers.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { pauseForTest } from '../testing/test-hooks.js';

export const TEMP_PREFIX = '.failsafe-tmp-';

export function isTempName(name: string): boolean {
  return basename(name).startsWith(TEMP_PREFIX);
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `${TEMP_PREFIX}${basename(target)}-${randomBytes(6).toString('hex')}`);
}

/** fsync a directory so a rename inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  signal?: AbortSignal;
}

/** Writes `body` to `target` atomically; resolves with the bytes written. The temp file is removed on any failure. */
export async function writeFileAtomic(target: string, body: Readable | Buffer, options: AtomicWriteOptions = {}): Promise<number> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    let size = 0;
    try {
      if (Buffer.isBuffer(body)) {
        options.signal?.throwIfAborted();
        await handle.writeFile(body);
        size = body.length;
      } else {
        size = await writeStreamTo(handle, body, options.signal);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await pauseForTest('file-temp-written');
    await rename(temp, target);
    await fsyncDir(dirname(target));
    return size;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * The most one write(2) is asked to take, as node's own writeFile does. The
 * kernel copies a 4 MiB write into the page cache at twice the cost of the
 * same bytes in pieces of 256 KiB-1 MiB: a 1 GiB restore spent 1.7-2.1 s of
 * system time writing whole segments, 0.7-0.9 s in pieces (docs/performance.md).
 */
export const WRITE_PIECE = 512 * 1024;

/** Every byte of `bytes` at the handle's position (a write may take fewer than asked). */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += (await handle.write(bytes, written, Math.min(WRITE_PIECE, bytes.length - written))).bytesWritten;
  }
}

/**
 * Writes a stream to an open file, one awaited write per chunk (so the source
 * is paused while the disk catches up). A WriteStream over a FileHandle with
 * autoClose off keeps a reference that makes `handle.close()` wait forever,
 * hence this loop; the caller keeps the handle to fsync and close it.
 */
export async function writeStreamTo(handle: FileHandle, body: Readable, signal?: AbortSignal): Promise<number> {
  let size = 0;
  // Destroys the body on abort, so a put waiting for the next chunk ends at once.
  if (signal) addAbortSignal(signal, body);
  try {
    signal?.throwIfAborted();
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      signal?.throwIfAborted();
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      await writeAll(handle, bytes);
      size += bytes.length;
    }
  } finally {
    if (!body.destroyed) body.destroy();
  }
  return size;
}
