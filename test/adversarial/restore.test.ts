/**
 * Forged snapshots restored and drilled through the CLI: each is refused
 * with exit 3 and its code, and nothing around the destination changes
 * (a hash of the surrounding folder before and after), nor in it.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Header } from 'tar-stream';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { treeHash } from '../helpers/tree.js';
import { forgeSnapshot, outsideHash, type Forgery } from './forge.js';

/**
 * A deployment without encryption (anyone who can write its target can forge),
 * a box around the destination holding an `outside` folder an escape would
 * replace, and the forged snapshot in its target.
 */
async function forged(forgery: (box: string) => Forgery): Promise<{ config: string; box: string; dest: string; data: string }> {
  const d = await makeDeployment({ encryption: 'encryption: none' });
  const box = join(d.root, 'box');
  const dest = join(box, 'dest');
  await mkdir(join(box, 'outside'), { recursive: true });
  await mkdir(dest);
  await writeFile(join(box, 'outside', 'precious.txt'), 'keep me');
  await forgeSnapshot(d.target, forgery(box));
  return { config: d.config, box, dest, data: d.data };
}

/** Runs the CLI on the forgery; expects exit 3 with `code`, and nothing changed in or around the destination. */
async function refused(forgery: (box: string) => Forgery, args: (dest: string) => string[], code: string): Promise<void> {
  const f = await forged(forgery);
  const before = await outsideHash(f.box, 'dest');
  const data = await treeHash(f.data);
  const r = await runCli([...args(f.dest), '-c', f.config]);
  expect(r.stderr).toContain(code);
  expect(r.code).toBe(3);
  expect(await outsideHash(f.box, 'dest')).toBe(before);
  expect(await readdir(f.dest)).toEqual([]);
  expect(await treeHash(f.data)).toBe(data);
}

const restoreTo = (dest: string): string[] => ['restore', 'latest', '--to', dest, '--yes'];
const drillIn = (dest: string): string[] => ['drill', '--scratch', dest];

describe('traversal through source names', () => {
  for (const name of ['../outside', '..', '../../box/outside']) {
    it(`restore --to refuses source ${name} with E_CORRUPT`, async () => {
      await refused(() => ({ entries: [{ source: name, path: 'precious.txt', body: Buffer.from('owned') }] }), restoreTo, 'E_CORRUPT');
    });
  }

  it('drill refuses source ../outside with E_CORRUPT', async () => {
    await refused(() => ({ entries: [{ source: '../outside', path: 'precious.txt', body: Buffer.from('owned') }] }), drillIn, 'E_CORRUPT');
  });
});

describe('traversal through entry paths', () => {
  for (const path of ['../outside/precious.txt', '../../outside/precious.txt', 'a/../../../outside/x']) {
    it(`restore --to refuses ${path} with E_UNSAFE_PATH`, async () => {
      await refused(() => ({ entries: [{ path, body: Buffer.from('owned') }] }), restoreTo, 'E_UNSAFE_PATH');
    });
  }

  it('an absolute path is refused, and the file it names is not written', async () => {
    await refused((box) => ({ entries: [{ path: join(box, 'outside', 'precious.txt'), body: Buffer.from('owned') }] }), restoreTo, 'E_UNSAFE_PATH');
  });
});

describe('traversal through symlinks the snapshot creates', () => {
  /** A symlink `link` to `to`, then a file written through it. */
  const throughLink = (to: (box: string) => string) => (box: string) => ({
    entries: [
      { path: 'link', type: 'symlink', linkTarget: to(box) },
      { path: 'link/precious.txt', body: Buffer.from('owned') },
    ],
  });
  const absolute = (box: string): string => join(box, 'outside');
  const climbing = (): string => '../../../outside';

  it.each([
    ['an absolute', absolute],
    ['a relative, climbing', climbing],
  ])('a file written through %s symlink to outside is refused', async (_what, to) => {
    await refused(throughLink(to), restoreTo, 'E_UNSAFE_PATH');
  });

  it('a drill refuses a write through a symlink too', async () => {
    await refused(throughLink(absolute), drillIn, 'E_UNSAFE_PATH');
  });

  it('a path listed twice (a symlink, then a folder of the same name) is refused before anything is written', async () => {
    const twice = (box: string): Forgery => {
      const { entries } = throughLink(climbing)(box);
      return { entries: [entries[0]!, { path: 'link', type: 'directory' }, entries[1]!] };
    };
    await refused(twice, restoreTo, 'listed twice');
  });
});

describe('missing fields and huge sizes end in E_CORRUPT, not E_INTERNAL', () => {
  const cases: [string, Forgery['body']][] = [
    ['plainSize 2^53', (m) => (m.segments[0].plainSize = 2 ** 53)],
    ['an entry without a type', (m) => delete m.entries[0].type],
    ['no entries', (m) => delete m.entries],
    ['an entry of 2^53 bytes', (m) => (m.entries[0].size = 2 ** 53)],
  ];
  for (const [what, body] of cases) {
    it(what, async () => {
      await refused(() => ({ entries: [{ path: 'a.txt' }], body }), restoreTo, 'E_CORRUPT');
    });
  }
});

describe('entry types Failsafe never writes, in the tar stream', () => {
  // The manifest says `file`; the stream holds something else, with no body to check.
  const kinds: [string, Partial<Header>][] = [
    ['hard link', { type: 'link', linkname: 'data/a.txt' }],
    ['character device', { type: 'character-device', devmajor: 1, devminor: 3 }],
    ['FIFO', { type: 'fifo' }],
  ];
  const disguised = (tar: Partial<Header>): Forgery => ({ entries: [{ path: 'a.txt' }, { path: 'b', body: Buffer.alloc(0), tar: { size: 0, ...tar } }] });

  it.each(kinds)('a %s is E_CORRUPT on restore, never an empty file', async (kind, tar) => {
    await refused(() => disguised(tar), restoreTo, `is a ${kind}`);
  });

  it.each(kinds)('a %s fails verify --read-data with exit 3', async (kind, tar) => {
    const f = await forged(() => disguised(tar));
    const r = await runCli(['verify', '--read-data', '--json', '-c', f.config]);
    expect(r.code).toBe(3);
    expect(r.json().errors[0].message).toContain(`is a ${kind}`);
  });
});

describe('a gzip bomb manifest', () => {
  it('is refused by restore with E_CORRUPT before anything is written', async () => {
    // 64 MiB of spaces gzip to about 64 KiB; the bound for one file is about 5 MiB.
    const rawBody = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    await refused(() => ({ entries: [{ path: 'a.txt' }], rawBody }), restoreTo, 'inflates past');
  });
});
