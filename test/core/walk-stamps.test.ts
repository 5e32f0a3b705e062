/**
 * An unchanged file costs the backup one stat: the directory walk stats each
 * entry as it comes to it, in name order, and hands each file's stamp to the
 * files cache, which then stats nothing.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceEntry } from '../../core/contracts.js';
import { FilesCache } from '../../core/dedup/files-cache.js';
import { DirectorySource } from '../../plugins/directory/directory.js';

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

  it('a run that found every cached file unchanged and recorded none leaves the cache file as it was; a new entry rewrites it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-stamps-'));
    await mkdir(join(root, 'data'));
    await writeFile(join(root, 'data', 'a.txt'), 'a');
    const [a] = await fileEntries(join(root, 'data'));
    const cacheFile = join(root, 'cache', 'files');
    const later = { now: new Date(Date.now() + 10_000) };
    const first = await FilesCache.open(cacheFile, later);
    first.record('src/a.txt', a!.localFile!.stamp!, [Buffer.alloc(32, 1)]);
    await first.save();
    const written = await readFile(cacheFile, 'utf8');
    expect(written).toContain('src/a.txt');

    // A marker in place of the file: only a write can remove it (the cache is held in memory once open).
    const unchanged = await FilesCache.open(cacheFile, later);
    await writeFile(cacheFile, written.replace('src/a.txt', 'src/marker'));
    expect(await unchanged.lookup('src/a.txt', a!.localFile!, a!.size, () => true)).toHaveLength(1);
    await unchanged.save();
    expect(await readFile(cacheFile, 'utf8')).toContain('src/marker');

    const grown = await FilesCache.open(cacheFile, later);
    await grown.lookup('src/marker', a!.localFile!, a!.size, () => true);
    grown.record('src/b.txt', a!.localFile!.stamp!, [Buffer.alloc(32, 2)]);
    await grown.save();
    expect(await readFile(cacheFile, 'utf8')).toMatch(/src\/marker[\s\S]*src\/b\.txt/);
    await rm(root, { recursive: true, force: true });
  });
});

async function fileEntries(path: string): Promise<SourceEntry[]> {
  const entries: SourceEntry[] = [];
  for await (const entry of new DirectorySource({ path }).entries({ warn: () => undefined })) if (entry.type === 'file') entries.push(entry);
  return entries;
}
