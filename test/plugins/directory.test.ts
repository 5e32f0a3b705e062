import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile, chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import type { RestoreEntry } from '../../core/contracts.js';
import { DirectorySource, restoreTree } from '../../plugins/directory/directory.js';
import { collectEntries, context, readEntry, restoreEntries, roundTrip } from './helpers.js';

async function sampleTree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dir-'));
  const tree = join(root, 'tree');
  await mkdir(join(tree, 'photos', '2024'), { recursive: true });
  await mkdir(join(tree, 'empty'));
  await mkdir(join(tree, 'cache'));
  await writeFile(join(tree, 'photos', '2024', 'a.jpg'), 'jpeg bytes');
  await writeFile(join(tree, 'photos', 'b.jpg'), 'more jpeg');
  await writeFile(join(tree, 'photos', 'upload.tmp'), 'partial');
  await writeFile(join(tree, 'cache', 'x.bin'), 'cache');
  await writeFile(join(tree, 'notes.txt'), 'hello');
  await chmod(join(tree, 'notes.txt'), 0o600);
  await utimes(join(tree, 'notes.txt'), new Date('2020-05-06T07:08:09Z'), new Date('2020-05-06T07:08:09Z'));
  await symlink('../../etc/passwd', join(tree, 'escape-link'));
  await symlink('notes.txt', join(tree, 'inner-link'));
  return tree;
}

describe('directory source', () => {
  it('enumerates parents before children, in name order, with links as links and empty directories', async () => {
    const tree = await sampleTree();
    const entries = await collectEntries(new DirectorySource({ path: tree }));
    expect(entries.map((e) => `${e.type}:${e.path}`)).toEqual([
      'directory:cache',
      'file:cache/x.bin',
      'directory:empty',
      'symlink:escape-link',
      'symlink:inner-link',
      'file:notes.txt',
      'directory:photos',
      'directory:photos/2024',
      'file:photos/2024/a.jpg',
      'file:photos/b.jpg',
      'file:photos/upload.tmp',
    ]);
    const notes = entries.find((e) => e.path === 'notes.txt')!;
    expect(notes).toMatchObject({ size: 5, mode: 0o600 });
    expect(notes.mtime.toISOString()).toBe('2020-05-06T07:08:09.000Z');
    expect((await readEntry(notes)).toString()).toBe('hello');
    expect(entries.find((e) => e.path === 'escape-link')!.linkTarget).toBe('../../etc/passwd');
  });

  it('excludes by base name at any depth and by path; include keeps only matching files and their folders', async () => {
    const tree = await sampleTree();
    const excluded = await collectEntries(new DirectorySource({ path: tree, exclude: ['*.tmp', 'cache/**', 'cache'] }));
    expect(excluded.map((e) => e.path)).not.toContain('photos/upload.tmp');
    expect(excluded.map((e) => e.path).filter((p) => p.startsWith('cache'))).toEqual([]);
    expect(excluded.map((e) => e.path)).toContain('photos/2024/a.jpg');

    const included = await collectEntries(new DirectorySource({ path: tree, include: ['*.jpg'] }));
    expect(included.map((e) => e.path)).toEqual(['photos', 'photos/2024', 'photos/2024/a.jpg', 'photos/b.jpg']);
  });

  it('reads names as bytes: one that is not valid UTF-8 or holds a backslash is kept, and restored byte for byte', async () => {
    const tree = await sampleTree();
    // Latin-1 "café" and a folder "d\xff": names a Linux file system takes, and Node cannot read back as text.
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/caf`), Buffer.from([0xe9])]), 'latin-1');
    mkdirSync(Buffer.concat([Buffer.from(`${tree}/d`), Buffer.from([0xff])]));
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/d`), Buffer.from([0xff]), Buffer.from('/inner.txt')]), 'inner');
    await writeFile(join(tree, 'back\\slash'), 'one name');
    const ctx = context();
    const entries = await collectEntries(new DirectorySource({ path: tree }), ctx);
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining(['caf\udce9', 'd\udcff', 'd\udcff/inner.txt', 'back\\slash']));
    expect(ctx.warnings).toEqual([]);
    expect((await readEntry(entries.find((e) => e.path === 'caf\udce9')!)).toString()).toBe('latin-1');

    const to = join(tree, '..', 'restored');
    await restoreTree(roundTrip(new DirectorySource({ path: tree })), to, context());
    expect(readFileSync(Buffer.concat([Buffer.from(`${to}/caf`), Buffer.from([0xe9])]), 'utf8')).toBe('latin-1');
    expect(readFileSync(Buffer.concat([Buffer.from(`${to}/d`), Buffer.from([0xff]), Buffer.from('/inner.txt')]), 'utf8')).toBe('inner');
    expect(await readFile(join(to, 'back\\slash'), 'utf8')).toBe('one name');
  });

  it('marks the later names of an inode as hard links of the first, and a file with holes as sparse; the restore links and leaves holes', async () => {
    const tree = await sampleTree();
    await link(join(tree, 'notes.txt'), join(tree, 'photos', 'notes-link.txt'));
    await writeFile(join(tree, 'holes.bin'), '');
    await truncate(join(tree, 'holes.bin'), 8 * 1024 * 1024);
    await appendFile(join(tree, 'holes.bin'), 'tail');
    const entries = await collectEntries(new DirectorySource({ path: tree }));
    expect(entries.find((e) => e.path === 'notes.txt')!.hardLink).toBeUndefined();
    expect(entries.find((e) => e.path === 'photos/notes-link.txt')!.hardLink).toBe('notes.txt');
    expect(entries.find((e) => e.path === 'holes.bin')!.sparse).toBe(true);
    expect(entries.find((e) => e.path === 'photos/b.jpg')!.sparse).toBeUndefined();

    const to = join(tree, '..', 'restored');
    await restoreTree(roundTrip(new DirectorySource({ path: tree })), to, context());
    const [first, second] = await Promise.all([stat(join(to, 'notes.txt')), stat(join(to, 'photos', 'notes-link.txt'))]);
    expect(second.ino).toBe(first.ino);
    expect(first.nlink).toBe(2);
    const holes = await stat(join(to, 'holes.bin'));
    expect(holes.size).toBe(8 * 1024 * 1024 + 4);
    expect(holes.blocks * 512).toBeLessThanOrEqual(64 * 1024);
    expect((await readFile(join(to, 'holes.bin'))).subarray(-4).toString()).toBe('tail');
  });

  it('skips sockets and FIFOs with a warning', async () => {
    const tree = await sampleTree();
    execFileSync('mkfifo', [join(tree, 'pipe')]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(tree, 'sock'), resolve));
    try {
      const ctx = context();
      const entries = await collectEntries(new DirectorySource({ path: tree }), ctx);
      expect(entries.map((e) => e.path)).not.toContain('pipe');
      expect(entries.map((e) => e.path)).not.toContain('sock');
      expect(ctx.warnings).toEqual([expect.stringContaining('skipped fifo pipe'), expect.stringContaining('skipped socket sock')]);
    } finally {
      server.close();
    }
  });

  it('reports a file that grew or shrank while being read, and keeps the announced size', async () => {
    const tree = await sampleTree();
    // Above the read-ahead size: small files are read as they are listed, these when packed.
    const big = Buffer.alloc(300 * 1024, 'x');
    await writeFile(join(tree, 'notes.txt'), big);
    await writeFile(join(tree, 'photos', 'b.jpg'), big);
    const source = new DirectorySource({ path: tree });
    const ctx = context();
    const entries = await collectEntries(source, ctx);
    await appendFile(join(tree, 'notes.txt'), ' and more');
    expect((await readEntry(entries.find((e) => e.path === 'notes.txt')!)).equals(big)).toBe(true);
    await truncate(join(tree, 'photos', 'b.jpg'), 4);
    const shrunk = await readEntry(entries.find((e) => e.path === 'photos/b.jpg')!);
    expect(shrunk).toEqual(Buffer.concat([Buffer.from('xxxx'), Buffer.alloc(big.length - 4)]));
    expect(source.changedFiles).toEqual(['notes.txt', 'photos/b.jpg']);
    expect(ctx.warnings.join('\n')).toMatch(/notes\.txt grew[\s\S]*photos\/b\.jpg shrank/);
  });

  it('a missing or non-directory path is E_SOURCE_MISSING', async () => {
    const tree = await sampleTree();
    for (const path of [join(tree, 'nope'), join(tree, 'notes.txt')]) {
      const err = await collectEntries(new DirectorySource({ path })).catch((e: unknown) => e);
      expect((err as FailsafeError).code).toBe('E_SOURCE_MISSING');
      expect((err as FailsafeError).message).toContain(path);
    }
  });

  it('restores a tree exactly: contents, links, empty folders, modes and mtimes', async () => {
    const tree = await sampleTree();
    const to = join(await mkdtemp(join(tmpdir(), 'failsafe-restore-')), 'out');
    const count = await restoreTree(roundTrip(new DirectorySource({ path: tree })), to, context());
    expect(count).toBe(11);
    expect(await readFile(join(to, 'photos', '2024', 'a.jpg'), 'utf8')).toBe('jpeg bytes');
    expect(await readlink(join(to, 'escape-link'))).toBe('../../etc/passwd');
    expect(await readdir(join(to, 'empty'))).toEqual([]);
    const notes = await stat(join(to, 'notes.txt'));
    expect(notes.mode & 0o777).toBe(0o600);
    expect(notes.mtime.toISOString()).toBe('2020-05-06T07:08:09.000Z');
    // Dates travel with millisecond precision (and utimes takes float seconds).
    expect(Math.abs((await stat(join(to, 'photos'))).mtimeMs - (await stat(join(tree, 'photos'))).mtimeMs)).toBeLessThan(1);
  });
});

describe('modification times late in a second', () => {
  // 0.9996 s into a second: Node's Stats.mtime rounds this to the next second's first millisecond.
  const LATE = 1_700_000_000.9996;

  it('are kept in their own second, through a backup and a restore, for files, folders and the small-file path', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-late-'));
    const tree = join(root, 'tree');
    await mkdir(join(tree, 'folder'), { recursive: true });
    await writeFile(join(tree, 'folder', 'small.txt'), 'small');
    await writeFile(join(tree, 'large.bin'), Buffer.alloc(300 * 1024, 7));
    for (const path of ['folder/small.txt', 'large.bin', 'folder']) await utimes(join(tree, path), LATE, LATE);
    const entries = await collectEntries(new DirectorySource({ path: tree }));
    for (const entry of entries) expect(entry.mtime.getTime(), entry.path).toBe(1_700_000_000_999);

    const to = join(root, 'out');
    await restoreTree(roundTrip(new DirectorySource({ path: tree })), to, context());
    for (const path of ['folder/small.txt', 'large.bin', 'folder']) {
      const restored = (await stat(join(to, path))).mtimeMs;
      expect(Math.floor(restored / 1000), path).toBe(1_700_000_000);
      expect(Math.abs(restored - LATE * 1000), path).toBeLessThan(1);
    }
  });
});

describe('directory restore of large files', () => {
  it('writes files past the early-flush size whole, with their mode and time; a failure after one still rejects', async () => {
    const to = join(await mkdtemp(join(tmpdir(), 'failsafe-restore-large-')), 'out');
    const big = 'x'.repeat(9 << 20);
    const mtime = new Date('2021-02-03T04:05:06.000Z');
    const items = [
      { path: 'a.bin', type: 'file' as const, content: big, mode: 0o640, mtime },
      { path: 'b.bin', type: 'file' as const, content: `${big}y`, mode: 0o600, mtime },
    ];
    expect(await restoreTree(restoreEntries(items), to, context())).toBe(2);
    expect((await readFile(join(to, 'b.bin'), 'utf8')).length).toBe(big.length + 1);
    const info = await stat(join(to, 'a.bin'));
    expect([info.size, info.mode & 0o777, info.mtime.toISOString()]).toEqual([big.length, 0o640, mtime.toISOString()]);

    async function* failing(): AsyncGenerator<RestoreEntry> {
      yield* restoreEntries(items.slice(0, 1));
      throw new Error('archive ended early');
    }
    await expect(restoreTree(failing(), join(to, 'again'), context())).rejects.toThrow('archive ended early');
  });
});

describe('directory restore from chunks()', () => {
  it('copies each chunk of a small file before asking for the next, whose memory may be the same', async () => {
    const to = join(await mkdtemp(join(tmpdir(), 'failsafe-restore-chunks-')), 'out');
    const mtime = new Date('2021-02-03T04:05:06.000Z');
    // One buffer handed out again and again, as a restore's read-ahead reuses its slots (core/dedup/chunk-runs.ts).
    const reused = Buffer.alloc(1000);
    async function* chunks(letters: string): AsyncGenerator<Buffer> {
      for (const letter of letters) yield reused.fill(letter);
    }
    async function* entries(): AsyncGenerator<RestoreEntry> {
      yield { path: 'three.txt', type: 'file', size: 3000, mode: 0o644, mtime, chunks: () => chunks('abc') };
      yield { path: 'one.txt', type: 'file', size: 1000, mode: 0o644, mtime, chunks: () => chunks('d') };
    }
    expect(await restoreTree(entries(), to, context())).toBe(2);
    expect(await readFile(join(to, 'three.txt'), 'utf8')).toBe('a'.repeat(1000) + 'b'.repeat(1000) + 'c'.repeat(1000));
    expect(await readFile(join(to, 'one.txt'), 'utf8')).toBe('d'.repeat(1000));
  });
});

describe('directory restore refuses hostile archives', () => {
  async function attempt(items: Parameters<typeof restoreEntries>[0]): Promise<{ err: unknown; root: string }> {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-hostile-'));
    await mkdir(join(root, 'outside'));
    const err = await restoreTree(restoreEntries(items), join(root, 'dest'), context()).catch((e: unknown) => e);
    return { err, root };
  }

  it.each([
    ['a .. path', [{ path: '../outside/evil', type: 'file' as const, content: 'x' }]],
    ['a nested .. path', [{ path: 'a/../../outside/evil', type: 'file' as const, content: 'x' }]],
    ['an absolute path', [{ path: '/tmp/evil', type: 'file' as const, content: 'x' }]],
    [
      'a write through a planted symlink',
      [
        { path: 'link', type: 'symlink' as const, linkTarget: '../outside' },
        { path: 'link/evil', type: 'file' as const, content: 'x' },
      ],
    ],
    [
      'a write through a symlink that replaced a folder of the same restore',
      [
        { path: 'a', type: 'directory' as const },
        { path: 'a', type: 'symlink' as const, linkTarget: '../outside' },
        { path: 'a/evil', type: 'file' as const, content: 'x' },
      ],
    ],
    [
      'a folder created through a planted symlink',
      [
        { path: 'link', type: 'symlink' as const, linkTarget: '../outside' },
        { path: 'link/sub', type: 'directory' as const },
      ],
    ],
  ])('%s is refused with E_UNSAFE_PATH and nothing lands outside', async (_name, items) => {
    const { err, root } = await attempt(items);
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).code).toBe('E_UNSAFE_PATH');
    expect(await readdir(join(root, 'outside'))).toEqual([]);
    await expect(lstat('/tmp/evil')).rejects.toThrow(/ENOENT/);
  });

  it('refuses to write through a symlink that was in the destination before the restore', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-hostile-'));
    await mkdir(join(root, 'outside'));
    await mkdir(join(root, 'dest'));
    await symlink('../outside', join(root, 'dest', 'link'));
    const items = [
      { path: 'link', type: 'directory' as const },
      { path: 'link/evil', type: 'file' as const, content: 'x' },
    ];
    const err = await restoreTree(restoreEntries(items), join(root, 'dest'), context()).catch((e: unknown) => e);
    expect((err as FailsafeError).code).toBe('E_UNSAFE_PATH');
    expect(await readdir(join(root, 'outside'))).toEqual([]);
  });

  it('refuses a folder entry where the destination holds a symlink, and changes nothing it points to', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-hostile-'));
    await mkdir(join(root, 'outside'), { mode: 0o755 });
    await mkdir(join(root, 'dest'));
    await symlink('../outside', join(root, 'dest', 'link'));
    const err = await restoreTree(restoreEntries([{ path: 'link', type: 'directory', mode: 0o777 }]), join(root, 'dest'), context()).catch((e: unknown) => e);
    expect((err as FailsafeError).code).toBe('E_UNSAFE_PATH');
    expect((await stat(join(root, 'outside'))).mode & 0o777).toBe(0o755);
  });
});

describe('directory restore modes', () => {
  it('restores modes the umask would strip, special bits, and replaces what a path held before', async () => {
    const to = join(await mkdtemp(join(tmpdir(), 'failsafe-modes-')), 'out');
    await mkdir(join(to, 'was-a-folder', 'inside'), { recursive: true });
    const previous = process.umask(0o077);
    try {
      const items = [
        { path: 'shared.txt', type: 'file' as const, content: 'group and others read', mode: 0o664 },
        { path: 'tool', type: 'file' as const, content: '#!/bin/sh', mode: 0o4755 },
        { path: 'was-a-folder', type: 'file' as const, content: 'now a file', mode: 0o640 },
      ];
      expect(await restoreTree(restoreEntries(items), to, context())).toBe(3);
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(to, 'shared.txt'))).mode & 0o7777).toBe(0o664);
    expect((await stat(join(to, 'tool'))).mode & 0o7777).toBe(0o4755);
    expect(await readFile(join(to, 'was-a-folder'), 'utf8')).toBe('now a file');
    expect((await stat(join(to, 'was-a-folder'))).mode & 0o7777).toBe(0o640);
  });
});
