/** A digest of a directory tree (names, types, modes, mtimes, contents, link targets), to prove nothing changed. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** `mtimeResolutionMs`: a restored mtime may differ from the original in the last millisecond (float seconds in utimes). */
export async function treeHash(root: string, mtimeResolutionMs = 1): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (rel: string): Promise<void> => {
    const path = rel === '' ? root : join(root, rel);
    const info = await lstat(path);
    // The root's own mode and time are not part of a source (a restore creates the folder).
    if (rel !== '' || !info.isDirectory()) hash.update(`${rel}\0${info.mode}\0${Math.floor(info.mtimeMs / mtimeResolutionMs)}\0`);
    if (info.isSymbolicLink()) hash.update(await readlink(path));
    else if (info.isFile()) hash.update(await readFile(path));
    else if (info.isDirectory()) for (const name of (await readdir(path)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
    hash.update('\n');
  };
  await visit('');
  return hash.digest('hex');
}

/** A folder tree as comparable text (a readable diff when a test fails): names, types, modes, mtimes (seconds), contents, link targets. */
export async function tree(root: string, base = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, base))).sort()) {
    const rel = base ? `${base}/${name}` : name;
    const info = await lstat(join(root, rel));
    if (info.isSymbolicLink()) out[rel] = `link:${await readlink(join(root, rel))}`;
    else if (info.isDirectory()) Object.assign(out, { [rel]: `dir:${(info.mode & 0o777).toString(8)}` }, await tree(root, rel));
    else out[rel] = `file:${(info.mode & 0o777).toString(8)}:${Math.floor(info.mtimeMs / 1000)}:${(await readFile(join(root, rel))).toString('base64')}`;
  }
  return out;
}
