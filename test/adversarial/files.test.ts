/**
 * Files as they are, through the CLI, in both formats: names that are not
 * UTF-8 and names with a backslash come back byte for byte and are listed
 * escaped; hard links come back as links; a sparse file comes back sparse.
 * Each case checks the exit code, the bytes, link counts or allocated
 * blocks, and that nothing beside the destination changed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeName, showName } from '../../core/fs/name-bytes.js';
import { appJob, makeDeployment, runCli } from '../helpers/cli.js';
import { decode } from '../helpers/decoder.js';
import { outsideHash } from './forge.js';

/** A path below `root` whose parts are bytes. */
const at = (root: string, ...parts: (string | number[])[]): Buffer =>
  Buffer.concat([Buffer.from(root), ...parts.flatMap((p) => [Buffer.from('/'), typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)])]);

const LATIN1_NAME = [0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]; // "café.txt" in Latin-1: not UTF-8
const ODD_DIR = [0x64, 0xff, 0xfe];
const ODD_FILE = [0x69, 0x6e, 0x80];
const MiB = 1024 * 1024;
const SPARSE_SIZE = 16 * MiB;

/** Every entry under `root` by its name's bytes (shown escaped): type, mode and content or link target. */
async function byteTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (dir: Buffer, rel: string): Promise<void> => {
    for (const name of (await readdir(dir, { encoding: 'buffer' })).sort(Buffer.compare)) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const key = `${rel}${showName(decodeName(name))}`;
      const info = await lstat(path);
      if (info.isSymbolicLink()) out[key] = `link:${(await readlink(path, { encoding: 'buffer' })).toString('hex')}`;
      else if (info.isDirectory()) {
        out[key] = `dir:${(info.mode & 0o777).toString(8)}`;
        await visit(path, `${key}/`);
      } else
        out[key] = `file:${(info.mode & 0o777).toString(8)}:${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`;
    }
  };
  await visit(Buffer.from(root), '');
  return out;
}

/** The odd names, the hard links and the sparse file, in place of the quick start's data. */
async function makeData(data: string): Promise<void> {
  await rm(data, { recursive: true, force: true });
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(at(data, LATIN1_NAME), 'a Latin-1 name\n');
  await writeFile(join(data, 'back\\slash.txt'), 'a backslash is a character\n');
  await writeFile(join(data, 'C:drive'), 'not a drive letter here\n');
  await mkdir(at(data, ODD_DIR));
  await writeFile(at(data, ODD_DIR, ODD_FILE), 'inside an odd folder\n');
  await symlink(at('.', LATIN1_NAME).subarray(2), at(data, 'odd-link'));
  await writeFile(join(data, 'h1'), 'one inode, three names\n');
  await link(join(data, 'h1'), join(data, 'h2'));
  await link(join(data, 'h1'), join(data, 'sub', 'h3'));
  const sparse = await open(join(data, 'sparse.bin'), 'w');
  await sparse.write(Buffer.alloc(4096, 'x'), 0, 4096, 0);
  await sparse.write(Buffer.alloc(4096, 'y'), 0, 4096, 6 * MiB + 100);
  await sparse.truncate(SPARSE_SIZE);
  await sparse.close();
}

async function deployment(format: 1 | 2): Promise<{ root: string; config: string; data: string; box: string; dest: string }> {
  // A key file: format 2 is always encrypted, and a key file costs no Argon2id run per CLI call.
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }', extraYaml: `repository: { format: ${format} }`, jobs: appJob() });
  await writeFile(join(d.root, 'failsafe.key'), `${randomBytes(32).toString('base64')}\n`);
  await makeData(d.data);
  const box = join(d.root, 'box');
  await mkdir(join(box, 'outside'), { recursive: true });
  await writeFile(join(box, 'outside', 'precious.txt'), 'keep me');
  return { root: d.root, config: d.config, data: d.data, box, dest: join(box, 'dest') };
}

describe.each([1, 2] as const)('format %s: files as they are', (format) => {
  it('names that are not UTF-8 and backslashes round-trip byte for byte, listed escaped; hard links and holes come back', { timeout: 300_000 }, async () => {
    const d = await deployment(format);
    const sourceTree = await byteTree(d.data);
    expect((await stat(join(d.data, 'sparse.bin'))).blocks * 512).toBeLessThan(SPARSE_SIZE / 4); // the file system has holes

    const backup = await runCli(['backup', '-c', d.config]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).not.toContain('skipped');

    const ls = await runCli(['ls', 'latest', '-c', d.config]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n')).toEqual(
      expect.arrayContaining(['data/caf\\xe9.txt', 'data/back\\\\slash.txt', 'data/d\\xff\\xfe/', 'data/d\\xff\\xfe/in\\x80']),
    );

    const outside = await outsideHash(d.box, 'dest');
    const restored = await runCli(['restore', 'latest', '--to', d.dest, '--yes', '-c', d.config]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await byteTree(join(d.dest, 'data'))).toEqual(sourceTree);
    expect(await outsideHash(d.box, 'dest')).toBe(outside);
    expect(await byteTree(d.data)).toEqual(sourceTree);

    // One inode for the three names, as in the source.
    const [h1, h2, h3] = await Promise.all(['h1', 'h2', 'sub/h3'].map((p) => stat(join(d.dest, 'data', p))));
    expect(h1!.nlink).toBe(3);
    expect(h2!.ino).toBe(h1!.ino);
    expect(h3!.ino).toBe(h1!.ino);

    // Two blocks of data in 16 MiB: restored with its holes, its bytes the same (checked by byteTree above).
    const sparse = await stat(join(d.dest, 'data', 'sparse.bin'));
    expect(sparse.size).toBe(SPARSE_SIZE);
    expect(sparse.blocks * 512).toBeLessThan(MiB);
  });

  it('the standalone decoder (tools/decrypt-snapshot.mjs) gives back the same names and bytes', { timeout: 300_000 }, async () => {
    const d = await deployment(format);
    const sourceTree = await byteTree(d.data);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const out = join(d.box, 'dest');
    const outside = await outsideHash(d.box, 'dest');
    const decoded = await decode([
      '--target',
      join(d.root, 'target'),
      '--job',
      'app',
      '--snapshot',
      'latest',
      '--out',
      out,
      '--key-file',
      join(d.root, 'failsafe.key'),
    ]);
    expect(decoded.code, decoded.stderr).toBe(0);
    expect(await byteTree(join(out, 'data'))).toEqual(sourceTree);
    expect(await outsideHash(d.box, 'dest')).toBe(outside);
    // Format 2's decoder links hard links; format 1's unpacks the tar stream, where each name is a copy.
    expect((await stat(join(out, 'data', 'h2'))).nlink).toBe(format === 2 ? 3 : 1);
  });

  it('--path takes a name as listings show it', { timeout: 300_000 }, async () => {
    const d = await deployment(format);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const partial = await runCli(['restore', 'latest', '--path', 'd\\xff\\xfe', '--path', 'h2', '--to', d.dest, '--yes', '-c', d.config]);
    expect(partial.code, partial.stderr).toBe(0);
    expect(Object.keys(await byteTree(join(d.dest, 'data'))).sort()).toEqual(['d\\xff\\xfe', 'd\\xff\\xfe/in\\x80', 'h2']);
    // h2's first name was not restored: it comes back as a file of its own, with the bytes.
    expect(await readFile(join(d.dest, 'data', 'h2'), 'utf8')).toBe('one inode, three names\n');
  });
});
