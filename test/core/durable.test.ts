import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flushTree, fsyncTree, syncFileSystem } from '../../core/fs/durable.js';

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-durable-'));
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'file.txt'), 'data');
  await symlink('nowhere', join(root, 'a', 'dangling'));
  // A FIFO opened for reading would block: only files and directories are fsynced.
  execFileSync('mkfifo', [join(root, 'a', 'pipe')]);
  return root;
}

describe('flushing a staged tree to disk', () => {
  it('fsyncs a tree holding a FIFO and a dangling symlink without blocking', async () => {
    await expect(fsyncTree(await tree())).resolves.toBeUndefined();
  });

  it('syncs the filesystem of a folder on Linux, and reports a missing folder', async () => {
    const root = await tree();
    expect(await syncFileSystem(root)).toBe(process.platform === 'linux');
    expect(await syncFileSystem(join(root, 'missing'))).toBe(false);
    await expect(flushTree(root)).resolves.toBeUndefined();
    await expect(flushTree(join(root, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
