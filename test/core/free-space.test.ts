import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFailsafeError } from '../../core/errors.js';
import { assertRoomFor, blocksFor } from '../../core/fs/free-space.js';

describe('room for a restore', () => {
  it('counts each file in whole blocks, an empty one in none', () => {
    expect(blocksFor([0, 1, 4096, 4097], 4096)).toBe(0 + 4096 + 4096 + 8192);
  });

  it('adds up the needs on one file system, asks the nearest existing parent of a path not made yet, and names the destination', async (ctx) => {
    const fs = await statfs(tmpdir());
    // btrfs and zfs may compress: there only inodes are checked.
    if (fs.type === 0x9123683e || fs.type === 0x2fc12fc1) return ctx.skip();
    const free = (process.getuid?.() === 0 ? fs.bfree : fs.bavail) * fs.bsize;
    const half = Math.ceil(free / 2 / fs.bsize) * fs.bsize + fs.bsize;
    const here = join(tmpdir(), 'not', 'made', 'yet');
    await expect(assertRoomFor([{ path: here, fileSizes: [half], entries: 1 }])).resolves.toBeUndefined();
    // Two halves and a bit do not fit where one does.
    const both = assertRoomFor([
      { path: here, shownAs: '/srv/photos', fileSizes: [half], entries: 1 },
      { path: join(tmpdir(), 'other'), fileSizes: [half], entries: 1 },
    ]);
    await expect(both).rejects.toSatisfy(
      (err) => isFailsafeError(err, 'E_NO_SPACE') && /on the file system of \/srv\/photos, which has .* free; nothing was changed/.test((err as Error).message),
    );
  });
});
