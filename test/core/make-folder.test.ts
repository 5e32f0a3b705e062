import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../../core/fs/make-folder.js';

describe('makeFolder', () => {
  it('makes the missing folders, resolves with the first it made, and nothing when all exist', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-make-folder-'));
    expect(await makeFolder(join(root, 'a', 'b', 'c'))).toBe(join(root, 'a'));
    expect((await stat(join(root, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    expect(await makeFolder(join(root, 'a', 'b'))).toBeUndefined();
  });

  it('under a file: rejects with ENOTDIR', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-make-folder-'));
    await writeFile(join(root, 'file'), 'x');
    await expect(makeFolder(join(root, 'file', 'sub', 'deeper'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
