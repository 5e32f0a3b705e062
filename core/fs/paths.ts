/**
 * Archive paths are untrusted on restore: a manifest or tar header could name
 * `../../etc/passwd` or an absolute path. Everything that turns an archive
 * path into a filesystem path goes through here.
 */
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { FailsafeError } from '../errors.js';
import { decodeName, fsPath, isWellFormedName } from './name-bytes.js';

/**
 * Names of a restore's staging folders (core/restore/plan.ts). One may sit
 * inside a mounted source folder while a partial restore runs, or after a
 * crash until recovery: sources leave them out.
 */
export const STAGING_PREFIX = '.failsafe-staging-';

/** Only Windows separates with a backslash: elsewhere it is an ordinary character of a file name. */
const SEPARATORS = process.platform === 'win32' ? /[\\/]+/ : /\/+/;

/** Validates an archive path and returns it normalised (`/`-separated, no `.` parts). */
export function normalizeArchivePath(path: string): string {
  if (path.includes('\0')) throw unsafe(path, 'contains a NUL byte');
  if (path.startsWith('/') || isAbsolute(path) || (process.platform === 'win32' && /^[A-Za-z]:/.test(path))) throw unsafe(path, 'is absolute');
  // A name's bytes that are not UTF-8 travel as U+DC80–U+DCFF (core/fs/name-bytes.ts); any other surrogate would be written as some other name.
  if (!isWellFormedName(path)) throw unsafe(path, 'is not a well-formed name');
  const parts = path.split(SEPARATORS).filter((part) => part !== '' && part !== '.');
  if (parts.some((part) => part === '..')) throw unsafe(path, 'contains ..');
  return parts.join('/');
}

/** Joins an archive path under `root`, refusing anything that would land outside it. */
export function safeJoin(root: string, archivePath: string): string {
  const normalized = normalizeArchivePath(archivePath);
  const target = join(root, ...normalized.split('/'));
  const rel = relative(root, target);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw unsafe(archivePath, 'leads outside the destination');
  return target;
}

/**
 * Refuses to write `target` when one of its parent directories under `root`
 * is a symlink (an archive could plant `a -> /etc` and then write `a/passwd`).
 */
export async function assertNoSymlinkParents(root: string, target: string): Promise<void> {
  const rel = relative(root, target);
  const parts = rel.split(sep).slice(0, -1);
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const info = await lstat(fsPath(current)).catch(() => undefined);
    if (info === undefined) return;
    if (info.isSymbolicLink()) throw unsafe(rel, `passes through the symlink ${relative(root, current)}`);
  }
  const realRoot = await realpath(root);
  const realParent = await realpath(fsPath(join(target, '..')), { encoding: 'buffer' }).then(decodeName, () => undefined);
  if (realParent !== undefined) {
    const back = relative(realRoot, realParent);
    if (back.startsWith('..') || isAbsolute(back)) throw unsafe(rel, 'leads outside the destination');
  }
}

function unsafe(path: string, why: string): FailsafeError {
  return new FailsafeError('E_UNSAFE_PATH', `refusing unsafe archive path "${path}": ${why}`);
}
