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
import type { SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { parsePublicKey, writeNewIdentity } from '../../core/crypto/identity.js';
import { KeyRing, type KeySlot } from '../../core/crypto/keys.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { Storage } from '../../core/repository/storage.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { decode } from '../helpers/decoder.js';
import { tree } from '../helpers/tree.js';

const KB = 1024;
/** Small chunks and packs, so a few MiB make many of each. */
const SIZES = { min: 4 * KB, avg: 16 * KB, max: 64 * KB };

type Setup = { root: string; data: string; target: string; storage: Storage; keyFile: string; keyFileKey: Buffer; keyRing: KeyRing };

async function setup(): Promise<Setup> {
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
  return { root, data, target, storage: new Storage(new LocalAdapter({ path: target }), 'disk'), keyFile, keyFileKey, keyRing };
}

async function backup(s: Setup, options: { sources?: SourcePlugin[]; keyRing?: KeyRing; writeOnly?: boolean } = {}): Promise<string> {
  const { sources = [new DirectorySource({ path: s.data }, 'data')], keyRing = s.keyRing, writeOnly = false } = options;
  const codec = createSegmentCodec('zstd', 1);
  const run = await backupDeduplicated({ job: 'app', sources, storage: s.storage, keyRing, writeOnly, codec, sizes: SIZES, packSize: 256 * KB });
  return run.id;
}

/** A source that yields `entries` as given: what a tampered or hostile tree holds. */
function sourceOf(entries: SourceEntry[]): SourcePlugin {
  return {
    type: 'test',
    name: 'data',
    liveLocations: () => [],
    restore: () => Promise.reject(new Error('not used')),
    async *entries() {
      yield* entries;
    },
  };
}

const file = (path: string, content: string, size = content.length): SourceEntry => ({
  path,
  type: 'file',
  size,
  mode: 0o644,
  mtime: new Date(),
  open: () => Readable.from([Buffer.from(content)]),
});

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
    // A file already there is never overwritten, and the failure is one line.
    const again = await decode(['--target', s.target, '--job', 'app', '--out', join(s.root, 'out-key-file'), '--key-file', s.keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^decrypt-snapshot: EEXIST: file already exists, open '.*'\n$/);
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

  it('restores with an identity what a write-only host wrote, which its own key file cannot open', async () => {
    const s = await setup();
    const identity = join(s.root, 'ops.identity');
    const publicKey = await writeNewIdentity(identity);
    const keyRing = await KeyRing.create({ keyFileKey: s.keyFileKey, recipients: [parsePublicKey(publicKey)] });
    const id = await backup(s, { keyRing, writeOnly: true });
    const base = ['--target', s.target, '--job', 'app'];
    const restored = await decode([...base, '--out', join(s.root, 'out'), '--identity', identity]);
    expect(restored.stderr).toBe('');
    expect(await tree(join(s.root, 'out', 'data'))).toEqual(await tree(s.data));
    const keyFile = await decode([...base, '--out', join(s.root, 'o2'), '--key-file', s.keyFile]);
    expect(keyFile.code).toBe(1);
    expect(keyFile.stderr).toBe(`decrypt-snapshot: snapshots/app/${id}: no key slot opens with the given secret (slots: recipient)\n`);
  });

  it('checks every chunk against its keyed id', async () => {
    const s = await setup();
    await backup(s);
    // Chunks that open and decompress, but under another id key than the one they were named with.
    const path = join(s.target, 'config');
    const config = JSON.parse(await readFile(path, 'utf8')) as { slots: KeySlot[]; keys: string };
    const cipher = new SecretstreamCipher(s.keyRing.open(config.slots));
    const keys = JSON.parse(cipher.decrypt(Buffer.from(config.keys, 'base64'), 'failsafe/v2/config').toString()) as Record<string, string>;
    keys.idKey = randomBytes(32).toString('base64');
    config.keys = cipher.encrypt(Buffer.from(JSON.stringify(keys)), 'failsafe/v2/config').toString('base64');
    await writeFile(path, JSON.stringify(config));
    const result = await decode(['--target', s.target, '--job', 'app', '--out', join(s.root, 'out'), '--key-file', s.keyFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^decrypt-snapshot: packs\/[0-9a-f]{2}\/[0-9a-f]{64}: chunk [0-9a-f]{64}: does not match its id\n$/);
  });

  it.each([
    ['a path with ..', [file('../../escaped.txt', 'bad')], 'refusing unsafe path in archive: data/../../escaped.txt'],
    [
      'a file through a symlink',
      [{ path: 'link', type: 'symlink', size: 0, mode: 0o777, mtime: new Date(), linkTarget: '../..' }, file('link/escaped.txt', 'bad')],
      'refusing to write through symlink OUT/data/link',
    ],
    ['a file shorter than its size', [file('short.txt', 'abc', 5)], 'data/short.txt: 3 bytes where 5 were recorded'],
  ] as [string, SourceEntry[], string][])('refuses %s, writing nothing outside the output folder', async (_, entries, message) => {
    const s = await setup();
    await backup(s, { sources: [sourceOf([file('ok.txt', 'ok'), ...entries])] });
    const out = join(s.root, 'out', 'inner');
    const result = await decode(['--target', s.target, '--job', 'app', '--out', out, '--passphrase-env', 'PASS'], { PASS: 'pw' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`decrypt-snapshot: ${message.replace('OUT', out)}\n`);
    expect(await readdir(join(s.root, 'out'))).toEqual(['inner']);
    expect(await readdir(s.root)).not.toContain('escaped.txt');
  });
});
