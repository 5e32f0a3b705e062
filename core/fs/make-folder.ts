/**
 * `mkdir -p` whose errors are the real ones. Node's recursive mkdir reports a
 * folder it could not make on a read-only file system as ENOENT, so a USB
 * disk remounted read-only after an error looked like a missing path.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoOf } from '../errors.js';
import { nearestExisting } from './nearest-existing.js';

/** Makes `path` and its missing parents; resolves with the first folder it made (undefined when `path` existed). */
export async function makeFolder(path: string): Promise<string | undefined> {
  try {
    return await mkdir(path, { recursive: true });
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  // One folder at a time, from the first missing one down, so the failing mkdir gives its own error.
  const existing = (await nearestExisting(path))?.path;
  const missing: string[] = [];
  for (let at = path; at !== existing && dirname(at) !== at; at = dirname(at)) missing.unshift(at);
  let first: string | undefined;
  for (const dir of missing) {
    try {
      await mkdir(dir);
      first ??= dir;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err;
    }
  }
  return first;
}
