/**
 * The standalone decoder (tools/decrypt-snapshot.mjs, written from
 * docs/format-v2.md alone) must restore a deduplicating (format 2) snapshot
 * that the library engine wrote, byte for byte, and refuse damaged packs and
 * paths that leave the output folder: the document suffices to read a
 * repository without Failsafe.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import type { SourcePlugin } from '../../core/contracts.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { Storage } from '../../core/repository/storage.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { decode } from '../helpers/decoder.js';
import { tree } from '../helpers/tree.js';

const KB = 1024;
/** Small chunks and packs, so a few MiB make many of each. */
const SIZES = { min: 4 * KB, avg: 16 * KB, max: 64 * KB };

async function setup(): Promise<{ root: string; data: string; target: string; storage: Storage; keyFile: string; keyRing: KeyRing }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-decode-v2-'));
  const data = join(root, 'data');
  const deep = join(data, 'a'.repeat(60), 'b'.repeat(60));
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, `${'c'.repeat(120)}.txt`), 'long name');
  // Noise and text: chunks that do not compress and chunks that do.
  await writeFile(join(data, 'big.bin'), Buffer.concat([randomBytes(3 * 1024 * KB), Buffer.from('GET /index.html 200\n'.repeat(100_000)), randomBytes(123)]));
  await writeFile(join(data, 'empty'), '');
  await writeFile(join(data, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(data, 'run.sh'), 0o750);
  await mkdir(join(data, 'private'), { mode: 0o700 });
  await writeFile(join(data, 'private', '.env'), 'SECRET=1\n', { mode: 0o600 });
  await symlink('big.bin', join(data, 'latest'));
  const target = join(root, 'target');
  const keyFileKey = randomBytes(32);
  const keyFile = join(root, 'failsafe.key');
  // As `failsafe keygen` writes it: base64 on one line.
  await writeFile(keyFile, `${keyFileKey.toString('base64')}\n`);
  const keyRing = await KeyRing.create({ passphrase: 'pw', keyFileKey });
  return { root, data, target, storage: new Storage(new LocalAdapter({ path: target }), 'disk'), keyFile, keyRing };
}

async function backup(s: Awaited<ReturnType<typeof setup>>, sources: SourcePlugin[] = [new DirectorySource({ path: s.data }, 'data')]): Promise<string> {
  const codec = createSegmentCodec('zstd', 1);
  const run = await backupDeduplicated({ job: 'app', sources, storage: s.storage, keyRing: s.keyRing, codec, sizes: SIZES, packSize: 256 * KB });
  return run.id;
}

async function packs(target: string): Promise<string[]> {
  const out: string[] = [];
  for (const folder of await readdir(join(target, 'packs')))
    out.push(...(await readdir(join(target, 'packs', folder))).map((n) => join(target, 'packs', folder, n)));
  return out;
}

describe('standalone decoder, format 2', () => {
  it('restores a deduplicating snapshot exactly, with the passphrase or the key file, across runs and without index objects', async () => {
    const s = await setup();
    const first = await backup(s);
    const before = await tree(s.data);
    // A second run: most chunks are the first run's, in packs sealed under its run key.
    await writeFile(join(s.data, 'big.bin'), Buffer.concat([randomBytes(100 * KB), await readFile(join(s.data, 'big.bin'))]));
    const second = await backup(s);
    expect((await packs(s.target)).length).toBeGreaterThan(4);

    const ways: [string, string[], NodeJS.ProcessEnv][] = [
      ['passphrase', ['--passphrase-env', 'PASS'], { PASS: 'pw' }],
      ['key-file', ['--key-file', s.keyFile], {}],
    ];
    for (const [way, secret, env] of ways) {
      const out = join(s.root, `out-${way}`);
      const result = await decode(['--target', s.target, '--job', 'app', '--out', out, ...secret], env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`unpacked snapshot ${second} of app: ${Object.keys(before).length} entries into ${out}\n`);
      expect(await tree(join(out, 'data'))).toEqual(await tree(s.data));
    }
    const old = await decode(['--target', s.target, '--job', 'app', '--snapshot', first, '--out', join(s.root, 'old'), '--key-file', s.keyFile]);
    expect(old.stderr).toBe('');
    expect(await tree(join(s.root, 'old', 'data'))).toEqual(before);

    // Packs no index object names are read from their own tails.
    await rm(join(s.target, 'index'), { recursive: true });
    const unindexed = await decode(['--target', s.target, '--job', 'app', '--out', join(s.root, 'unindexed'), '--key-file', s.keyFile]);
    expect(unindexed.stderr).toBe('');
    expect(await tree(join(s.root, 'unindexed', 'data'))).toEqual(await tree(s.data));
  });

  it('fails on a flipped byte in a pack, naming the pack and the chunk', async () => {
    const s = await setup();
    await backup(s);
    // The first chunk of every pack: whichever the snapshot reads first, one of them is damaged.
    for (const pack of await packs(s.target)) {
      const stored = await readFile(pack);
      stored[40]! ^= 1;
      await writeFile(pack, stored);
    }
    const result = await decode(['--target', s.target, '--job', 'app', '--out', join(s.root, 'out'), '--key-file', s.keyFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^decrypt-snapshot: packs\/[0-9a-f]{2}\/[0-9a-f]{64}: chunk [0-9a-f]{64}: authentication failed\n$/);
  });

  it('refuses a path that leaves the output folder, writing nothing outside it', async () => {
    const s = await setup();
    const evil: SourcePlugin = {
      type: 'test',
      name: 'data',
      liveLocations: () => [],
      restore: () => Promise.reject(new Error('not used')),
      async *entries() {
        yield { path: 'ok.txt', type: 'file', size: 2, mode: 0o644, mtime: new Date(), open: () => Readable.from([Buffer.from('ok')]) };
        yield { path: '../../escaped.txt', type: 'file', size: 3, mode: 0o644, mtime: new Date(), open: () => Readable.from([Buffer.from('bad')]) };
      },
    };
    await backup(s, [evil]);
    const out = join(s.root, 'out', 'inner');
    const result = await decode(['--target', s.target, '--job', 'app', '--out', out, '--passphrase-env', 'PASS'], { PASS: 'pw' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('decrypt-snapshot: refusing unsafe path in archive: data/../../escaped.txt\n');
    expect(await readdir(join(s.root, 'out'))).toEqual(['inner']);
    expect(await readdir(s.root)).not.toContain('escaped.txt');
  });
});
