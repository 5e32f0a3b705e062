/**
 * The nearest path that exists at or above a path that may not exist yet (a
 * restore's new --to folder, a staging folder to make): where its file
 * system, its device and its kind can be asked.
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoOf } from '../errors.js';

/** `path` or its nearest existing parent, with its stats (links followed); undefined when none exists. Errors other than "not there" are thrown. */
export async function nearestExisting(path: string): Promise<{ path: string; stats: Stats } | undefined> {
  for (let at = path; ; at = dirname(at)) {
    const stats = await stat(at).catch((err: unknown) => {
      const errno = errnoOf(err);
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
      throw err;
    });
    if (stats) return { path: at, stats };
    if (dirname(at) === at) return undefined;
  }
}
