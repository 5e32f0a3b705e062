/**
 * An unchanged file costs the backup one stat: the directory walk stats a
 * folder's entries a few at a time ahead of the one it hands out, in order,
 * and hands each file's stamp to the files cache, which then stats nothing.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceEntry } from '../../core/contracts.js';
import { FilesCache } from '../../core/dedup/files-cache.js';
import { ahead } from '../../core/util/ahead.js';
import { DirectorySource } from '../../plugins/directory/directory.js';

describe('ahead', () => {
  it('hands items out in order with at most `depth` started beyond the one handed out', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const work = async (n: number): Promise<number> => {
      started.push(n);
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, (n * 7) % 5));
      running--;
      return n * 10;
    };
    const out: [number, number][] = [];
    for await (const pair of ahead([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, work)) out.push(pair);
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, n * 10]));
    expect(most).toBeLessThanOrEqual(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a failure surfaces at its own item, after the items before it', async () => {
    const got: number[] = [];
    const run = async (): Promise<void> => {
      for await (const [n] of ahead([1, 2, 3, 4], 4, (n) => (n === 3 ? Promise.reject(new Error('three')) : Promise.resolve(n)))) got.push(n);
    };
    await expect(run()).rejects.toThrow('three');
    expect(got).toEqual([1, 2]);
  });
});

describe('stamps from the walk', () => {
  it('every file entry carries its stamp, in name order, and the files cache trusts it without a stat', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-stamps-'));
    await mkdir(join(root, 'data', 'sub'), { recursive: true });
    for (const name of ['b.txt', 'a.txt', 'sub/c.txt', 'd.txt']) await writeFile(join(root, 'data', name), name);
    const entries: SourceEntry[] = [];
    for await (const entry of new DirectorySource({ path: join(root, 'data') }).entries({ warn: () => undefined })) entries.push(entry);
    expect(entries.map((e) => e.path)).toEqual(['a.txt', 'b.txt', 'd.txt', 'sub', 'sub/c.txt']);
    const files = entries.filter((e) => e.type === 'file');
    for (const file of files) expect(file.localFile?.stamp).toMatchObject({ size: file.size, ino: expect.stringMatching(/^\d+$/) });

    // Recorded under the walk's stamp, then looked up with the file gone: only the stamp can have answered.
    const cacheFile = join(root, 'cache', 'files');
    const id = Buffer.alloc(32, 7);
    const first = await FilesCache.open(cacheFile, { now: new Date(Date.now() + 10_000) });
    const a = files[0]!;
    first.record('src/a.txt', (await first.stamp(a.localFile!))!, [id]);
    await first.save();
    await rm(join(root, 'data', 'a.txt'));
    const second = await FilesCache.open(cacheFile);
    expect(await second.lookup('src/a.txt', a.localFile!, a.size, () => true)).toEqual([id]);
    const { stamp: _stamp, ...statOnly } = a.localFile!;
    expect(await second.lookup('src/a.txt', statOnly, a.size, () => true)).toBeUndefined();
    await rm(root, { recursive: true, force: true });
  });
});
