/** The files cache: an unchanged file is not read again; anything doubtful is read; the cache is only ever a hint. */
import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { Storage } from '../../core/repository/storage.js';
import { tree } from '../helpers/tree.js';

const codec = createSegmentCodec('zstd', 1);
const SIZES = { min: 4096, avg: 16_384, max: 65_536 };

async function setup(): Promise<{
  root: string;
  data: string;
  /** `read`: the files read, not taken from the cache (they are read in the worker threads, out of a test's sight). */
  run: (options?: { forceReread?: boolean }) => Promise<{ id: string; read: number }>;
  storage: Storage;
  keyRing: KeyRing;
}> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-files-cache-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  const old = new Date(Date.now() - 60_000);
  for (const name of ['a.bin', 'b.bin', 'sub/c.bin']) {
    await writeFile(join(data, name), randomBytes(50_000));
    await utimes(join(data, name), old, old);
  }
  // A file's ctime cannot be set back: the files must age past the cache's one-second rule by waiting.
  await sleep(1100);
  const storage = new Storage(new LocalAdapter({ path: join(root, 'target') }), 'disk');
  const keyRing = await KeyRing.create({ keyFileKey: Buffer.alloc(32, 4) });
  const cacheDir = join(root, 'cache');
  const run = async (options: { forceReread?: boolean } = {}): Promise<{ id: string; read: number }> => {
    const source = new DirectorySource({ path: data }, 'data');
    const { id, cache } = await backupDeduplicated({ job: 'app', sources: [source], storage, keyRing, codec, sizes: SIZES, cacheDir, ...options });
    return { id, read: cache.misses };
  };
  return { root, data, run, storage, keyRing };
}

describe('files cache', () => {
  it('reads an unchanged file once; a touched or rewritten file again; --force-reread everything', async () => {
    const s = await setup();
    expect((await s.run()).read).toBe(3);
    expect((await s.run()).read).toBe(0);
    const later = new Date(Date.now() - 30_000);
    await utimes(join(s.data, 'a.bin'), later, later);
    await writeFile(join(s.data, 'sub', 'c.bin'), randomBytes(50_000));
    await utimes(join(s.data, 'sub', 'c.bin'), later, later);
    await sleep(1100);
    const third = await s.run();
    expect(third.read).toBe(2);
    expect((await s.run({ forceReread: true })).read).toBe(3);
    // Whatever came from the cache, the snapshot holds the files as they are.
    const to = join(s.root, 'restored');
    await restoreDeduplicated({
      storage: s.storage,
      keyRing: s.keyRing,
      job: 'app',
      id: third.id,
      plugins: new Map([['data', new DirectorySource({ path: s.data }, 'data')]]),
      destination: () => to,
    });
    expect(await tree(to)).toEqual(await tree(s.data));
  });

  it('does not trust a file changed within the last second, nor a damaged or deleted cache', async () => {
    const s = await setup();
    await writeFile(join(s.data, 'fresh.bin'), randomBytes(1000));
    // Stamped ahead of every backup's start (a clock set wrong, or a file written as the backup starts): however slow
    // the machine, it is never old enough to be trusted.
    const ahead = new Date(Date.now() + 3_600_000);
    await utimes(join(s.data, 'fresh.bin'), ahead, ahead);
    await s.run();
    // Too recent to be trusted: read again next time.
    expect((await s.run()).read).toBe(1);
    const [repository] = await readdir(join(s.root, 'cache'));
    await writeFile(join(s.root, 'cache', repository!, 'app.files'), '{"format":"failsafe-files-cache/1"}\n["data/a.bin",{"size":"x"}]\n{broken');
    expect((await s.run()).read).toBe(4);
    await writeFile(join(s.root, 'cache', repository!, 'app.files'), '');
    expect((await s.run()).read).toBe(4);
  });
});
