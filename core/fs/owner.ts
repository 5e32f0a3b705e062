/**
 * Ownership on restore. Only root may give a file away, so owners are
 * restored when the restore runs as root and silently kept as the current
 * user otherwise (the usual tar behaviour).
 */
import { lchown } from 'node:fs/promises';
import { fsPath } from './name-bytes.js';

export interface Owned {
  uid?: number;
  gid?: number;
}

export function owner(entry: Owned): Owned {
  return { ...(entry.uid === undefined ? {} : { uid: entry.uid }), ...(entry.gid === undefined ? {} : { gid: entry.gid }) };
}

/** lchown: a symlink's own owner, never its target's. */
export async function restoreOwner(path: string, entry: Owned): Promise<void> {
  if (process.getuid?.() !== 0 || (entry.uid === undefined && entry.gid === undefined)) return;
  await lchown(fsPath(path), entry.uid ?? -1, entry.gid ?? -1);
}
