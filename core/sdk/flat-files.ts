/** Restoring sources that hold plain files side by side (config files, a database): each written atomically. */
import { chmod, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestoreEntry, SourceRestoreOptions } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { restoreOwner } from '../fs/owner.js';
import { normalizeArchivePath } from '../fs/paths.js';
import { fileTime } from '../fs/file-time.js';

/** Writes each entry as `destination/<name>`; anything nested or not a file is refused with E_UNSAFE_PATH (`what` says why). */
export async function restoreFlatFiles(
  entries: AsyncIterable<RestoreEntry>,
  destination: string,
  options: SourceRestoreOptions,
  what: string,
): Promise<number> {
  let count = 0;
  for await (const entry of entries) {
    const name = normalizeArchivePath(entry.path);
    if (name.includes('/') || entry.type !== 'file') throw new FailsafeError('E_UNSAFE_PATH', `${what}: refusing "${entry.path}"`);
    const target = join(destination, name);
    await writeFileAtomic(target, entry.body ?? Buffer.alloc(0), { mode: entry.mode & 0o7777, ...(options.signal ? { signal: options.signal } : {}) });
    await restoreOwner(target, entry);
    await chmod(target, entry.mode & 0o7777);
    await utimes(target, fileTime(entry.mtime), fileTime(entry.mtime));
    count++;
  }
  return count;
}
