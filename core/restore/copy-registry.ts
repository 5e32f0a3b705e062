/**
 * Where in-place restores left `.pre-restore-*` copies, kept in the
 * deployment's state folder: a partial restore (`--path`) moves aside a
 * folder or file deep inside a source, where expiry (./previous-copies.ts),
 * which looks beside each source's live path, would never find it. Each
 * entry is a live path and its job; the copies themselves are found by
 * name beside it, as for a source's own path, so the registry only says
 * where to look. A missing or damaged file reads as empty: the copies it
 * named are then kept, as before it existed; nothing is ever removed because
 * of what it says alone.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';

export interface RegisteredPath {
  job: string;
  /** The live path whose copies lie beside it (absolute). */
  path: string;
}

/** More than any deployment's partial restores between two expiries: the oldest entries go first. */
const MAX_ENTRIES = 10_000;

export async function readRegistered(file: string): Promise<RegisteredPath[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (e): e is RegisteredPath =>
      typeof e === 'object' &&
      e !== null &&
      typeof (e as RegisteredPath).job === 'string' &&
      typeof (e as RegisteredPath).path === 'string' &&
      (e as RegisteredPath).path.startsWith('/'),
  );
}

/** Writes the registry as `keep` of what it holds plus `add` (each path once). */
export async function updateRegistered(file: string, add: RegisteredPath[], keep: (entry: RegisteredPath) => boolean = () => true): Promise<void> {
  const byPath = new Map<string, RegisteredPath>();
  for (const entry of [...(await readRegistered(file)).filter(keep), ...add]) byPath.set(`${entry.job}\0${entry.path}`, entry);
  const entries = [...byPath.values()].slice(-MAX_ENTRIES);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, Buffer.from(`${JSON.stringify(entries, null, 2)}\n`));
}
