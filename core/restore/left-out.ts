/**
 * What a source's own options leave out of its snapshots (a directory's `exclude`) is not a restore's to replace.
 * The swap renames the whole live folder aside, so before it each left-out live path is linked into the staged copy
 * at the same place — hard links (staging is beside the live data, on its file system), a copy where a link cannot
 * be made — and the swap brings it back as it was. The original stays with the replaced data, untouched, whether
 * that is kept as `.pre-restore-*` or rolled back to.
 */
import { chmod, copyFile, link, lstat, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { encodeName, fsPath } from '../fs/name-bytes.js';
import { dirname, join } from 'node:path';
import { errnoOf, fromNodeError } from '../errors.js';
import { archivePathOf, leftOut, relativeArchivePath, walk, type PlannedSource } from './plan.js';

/** Links every left-out live path of the in-place sources into their staged copies; resolves with those live paths. */
export async function carryLeftOut(plan: PlannedSource[]): Promise<string[]> {
  const carried: string[] = [];
  for (const planned of plan) {
    const plugin = planned.plugin;
    if (!planned.inPlace || planned.applies || (!plugin.leavesOut && planned.source.meta?.exclude === undefined)) continue;
    for (const move of planned.moves) {
      if (!(await lstat(move.to).catch(() => undefined))?.isDirectory()) continue;
      const prefix = relativeArchivePath(planned, move);
      await walk(move.to, '', async (rel, info) => {
        if (!leftOut(planned, archivePathOf(prefix, rel))) return info.isDirectory();
        const live = join(move.to, rel);
        const staged = join(move.from, rel);
        try {
          // An older snapshot may hold what the source leaves out now: the live one stays.
          await rm(fsPath(staged), { recursive: true, force: true });
          await mkdir(fsPath(dirname(staged)), { recursive: true });
          await linkTree(encodeName(live), encodeName(staged));
        } catch (err) {
          throw fromNodeError(err, `keeping ${live} (left out by source "${plugin.name}")`);
        }
        carried.push(live);
        return false;
      });
    }
  }
  return carried;
}

/** `to` as a tree of hard links to `from`'s files, its folders made anew with their modes and times; paths as bytes (names need not be UTF-8). */
async function linkTree(from: Buffer, to: Buffer): Promise<void> {
  const info = await lstat(from);
  const under = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, Buffer.from('/'), name]);
  if (info.isDirectory()) {
    await mkdir(to);
    for (const name of await readdir(from, { encoding: 'buffer' })) await linkTree(under(from, name), under(to, name));
    await chmod(to, info.mode & 0o7777);
    await utimes(to, info.atime, info.mtime);
  } else if (info.isSymbolicLink()) {
    await symlink(await readlink(from, { encoding: 'buffer' }), to);
  } else {
    await link(from, to).catch(async (err: unknown) => {
      if (!['EXDEV', 'EPERM', 'EMLINK'].includes(errnoOf(err) ?? '')) throw err;
      await copyFile(from, to);
      await chmod(to, info.mode & 0o7777);
      await utimes(to, info.atime, info.mtime);
    });
  }
}
