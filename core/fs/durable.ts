/**
 * Making a staged tree durable before it is swapped in. Restores write files
 * without an fsync each (on ext4 every fsync is a journal commit: thousands
 * of small files would wait on thousands of them); once everything is staged,
 * one syncfs(2) of the filesystem that holds the tree (`sync --file-system`,
 * GNU coreutils) flushes all of its data and metadata at once. Where that is
 * not available every file and directory of the tree is fsynced instead.
 */
import { execFile } from 'node:child_process';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BoundedTasks } from '../pipeline/bounded-tasks.js';

const PARALLEL_FSYNCS = 8;

/** Resolves once everything under `root` (and `root` itself) is on stable storage. */
export async function flushTree(root: string): Promise<void> {
  if (process.platform === 'linux' && (await syncFileSystem(root))) return;
  await fsyncTree(root);
}

/** syncfs(2) of the filesystem holding `path`; false when the `sync` command cannot do it (not GNU, or it failed). */
export function syncFileSystem(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('sync', ['--file-system', path], (err) => resolve(!err));
  });
}

/** fsync of every file and directory under `root`, several at once, parents after their children. */
export async function fsyncTree(root: string): Promise<void> {
  const tasks = new BoundedTasks(PARALLEL_FSYNCS);
  async function visit(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) await tasks.add(() => fsyncPath(path));
    }
    await tasks.add(() => fsyncPath(dir));
  }
  try {
    await visit(root);
  } catch (err) {
    await tasks.settle();
    throw err;
  }
  await tasks.drain();
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
