/**
 * Staging folders no journal names: left by a version before the restore
 * journal, or (in principle) by a crash between a journal's removal and its
 * folders'. A restore writes its journal before its first staging folder, so
 * a folder that no journal names, running or dead, is one whose restore never
 * changed live data: settled by the same rule as a journal in state
 * `staging`, it is removed. Found where a restore of the configured sources
 * stages them: beside each live path, and inside it (a partial restore of a
 * mount point).
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { STAGING_PREFIX } from '../fs/paths.js';
import { findRestores } from './journal.js';

/** A configured source, and the live path a restore of it stages beside. */
export interface StagedSource {
  name: string;
  livePath: string;
}

/** `.failsafe-staging-<source>-<8 hex>`, as core/restore/plan.ts names them. */
function isStagingOf(entry: string, source: string): boolean {
  const prefix = `${STAGING_PREFIX}${source}-`;
  return entry.startsWith(prefix) && /^[0-9a-f]{8}$/.test(entry.slice(prefix.length));
}

async function isFolder(path: string): Promise<boolean> {
  const stat = await lstat(path).catch(() => undefined);
  return stat?.isDirectory() === true;
}

/**
 * Staging folders of `sources` that no journal in `journalDir` names, read-only. The folders are listed before the
 * journals are read: a restore starting meanwhile writes its journal before its folder, so its folder is never taken
 * for an orphan.
 */
export async function findOrphanStaging(journalDir: string, sources: StagedSource[]): Promise<string[]> {
  const found = new Set<string>();
  for (const { name, livePath } of sources) {
    for (const dir of new Set([dirname(livePath), livePath])) {
      for (const entry of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, entry);
        if (isStagingOf(entry, name) && (await isFolder(path))) found.add(path);
      }
    }
  }
  if (found.size === 0) return [];
  const journals = await findRestores(journalDir);
  // A journal that cannot be read may name any of them: left, as that journal is, for the user to settle by hand.
  if (journals.some((r) => r.unreadable !== undefined)) return [];
  const named = new Set(journals.flatMap((r) => r.staging));
  return [...found].filter((path) => !named.has(path)).sort();
}

/** Removes the staging folders no journal names; resolves with those removed. */
export async function removeOrphanStaging(journalDir: string, sources: StagedSource[]): Promise<string[]> {
  const orphans = await findOrphanStaging(journalDir, sources);
  for (const path of orphans) await rm(path, { recursive: true, force: true });
  return orphans;
}
