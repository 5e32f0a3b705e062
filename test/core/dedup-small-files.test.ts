/**
 * A v2 backup of many small local files, cut in batches (core/dedup/file-batches.ts;
 * the pool's side in segment-workers-files.test.ts): one worker job and one reply
 * for several files, yet each file keeps its own change report and its own read
 * error, and the tree restores whole, hard link included.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import type { LocalFileChange, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { Storage } from '../../core/repository/storage.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { tree } from '../helpers/tree.js';

const SIZES = { min: 2048, avg: 8192, max: 32768 };

function bytesOf(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

/** A directory source whose local files can be swapped for others, or heard changing, per path. */
function wrapped(inner: DirectorySource, swap: (entry: SourceEntry) => SourceEntry): SourcePlugin {
  return Object.assign(Object.create(inner) as SourcePlugin, {
    async *entries(context: Parameters<SourcePlugin['entries']>[0]) {
      for await (const entry of inner.entries(context)) yield swap(entry);
    },
  });
}

async function setup(): Promise<{ root: string; data: string; storage: Storage; keyRing: KeyRing }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-small-files-'));
  const data = join(root, 'data');
  for (let d = 0; d < 3; d++) await mkdir(join(data, `d${d}`), { recursive: true });
  // More files than one batch holds, some alike, one larger than a batched file, and a hard link.
  for (let i = 0; i < 80; i++) await writeFile(join(data, `d${i % 3}`, `n${i}.txt`), bytesOf(100 + ((i * 997) % 6000), i % 20 === 0 ? 0 : i));
  await writeFile(join(data, 'big.bin'), bytesOf(400_000, 99));
  await link(join(data, 'd1', 'n7.txt'), join(data, 'd2', 'hard.txt'));
  const storage = new Storage(new LocalAdapter({ path: join(root, 'target') }), 'disk');
  return { root, data, storage, keyRing: await KeyRing.create({ keyFileKey: Buffer.alloc(32, 9) }) };
}

const codec = createSegmentCodec('zstd', 1);

function backup(s: Awaited<ReturnType<typeof setup>>, source: SourcePlugin): ReturnType<typeof backupDeduplicated> {
  return backupDeduplicated({ job: 'app', sources: [source], storage: s.storage, keyRing: s.keyRing, codec, sizes: SIZES, packSize: 64 << 10 });
}

describe('a v2 backup of many small files', () => {
  it('restores them identical, hard link included, and hears a change from the file that changed only', async () => {
    const s = await setup();
    const heard: [string, LocalFileChange][] = [];
    const source = wrapped(new DirectorySource({ path: s.data }, 'data'), (entry) =>
      entry.localFile && entry.path === 'd2/n5.txt'
        ? // Announced larger than it is: it shrank once listed.
          { ...entry, size: entry.size + 10, localFile: { ...entry.localFile, changed: (what) => heard.push([entry.path, what]) } }
        : entry.localFile
          ? { ...entry, localFile: { ...entry.localFile, changed: (what) => heard.push([entry.path, what]) } }
          : entry,
    );
    const first = await backup(s, source);
    expect(first.stats.files).toBe(82);
    expect(heard).toEqual([['d2/n5.txt', 'shrank']]);
    const to = join(s.root, 'restored');
    await restoreDeduplicated({
      storage: s.storage,
      keyRing: s.keyRing,
      job: 'app',
      id: first.id,
      plugins: new Map([['data', new DirectorySource({ path: s.data }, 'data')]]),
      destination: () => to,
    });
    const expected = await tree(s.data);
    // The shrunk file comes back padded with zeros to its announced size.
    const restored = await tree(to);
    expect(restored['d2/n5.txt']).not.toEqual(expected['d2/n5.txt']);
    expect({ ...restored, 'd2/n5.txt': '' }).toEqual({ ...expected, 'd2/n5.txt': '' });
  });

  it('fails with the read error of the one file that cannot be read, naming it', async () => {
    const s = await setup();
    const missing = join(s.data, 'd0', 'not-there.txt');
    const source = wrapped(new DirectorySource({ path: s.data }, 'data'), (entry) =>
      entry.localFile && entry.path === 'd1/n40.txt' ? { ...entry, localFile: { ...entry.localFile, path: missing } } : entry,
    );
    await expect(backup(s, source)).rejects.toMatchObject({ code: 'E_SOURCE_READ', message: expect.stringContaining(`cannot read ${missing}`) });
  });
});
