/**
 * Crash-safe file writes: temp name beside the target, fsync, rename, fsync
 * the directory. After a crash either the old file or the new one is there,
 * never a torn one; temp names start with TEMP_PREFIX so listings and
 * clean-up can recognise leftovers.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

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
export async function writeFileAtomic(
  target: string,
  body: Readable | Buffer,
  options: AtomicWriteOptions = {},
): Promise<number> {
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
        const out = createWriteStream('', { fd: handle, autoClose: false });
        body.on('data', (chunk: Buffer) => {
          size += chunk.length;
        });
        await pipeline(body, out, { signal: options.signal });
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    await fsyncDir(dirname(target));
    return size;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
