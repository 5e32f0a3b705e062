/**
 * Full and failing file systems. A backup onto a full disk fails at once
 * and leaves nothing it cannot resume from; a restore that cannot fit is
 * refused before anything is written, and a failure of the file system
 * while staging is a clear error with its own code. Real tmpfs mounts, so
 * these run only where the tests may mount (root with CAP_SYS_ADMIN, as in CI).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FailsafeError, fromStagingError } from '../../core/errors.js';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { treeHash } from '../helpers/tree.js';

const mounted: string[] = [];

/** A fresh tmpfs with these mount options, or undefined where this process may not mount. */
async function tmpfs(options: string): Promise<string | undefined> {
  const at = await mkdtemp(join(tmpdir(), 'failsafe-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounted.push(at);
  return at;
}

afterAll(() => {
  for (const at of mounted) execFileSync('umount', [at]);
});

describe('a backup onto a full disk', () => {
  it('fails with E_STORAGE as soon as the disk is full, and keeps no segment that no checkpoint records', async (ctx) => {
    const disk = await tmpfs('size=5m');
    if (!disk) return ctx.skip();
    const d = await makeDeployment({ targets: `targets:\n  disk: { type: local, path: ${join(disk, 'repo')} }`, jobs: appJob() });
    // Eight 4 MiB segments of incompressible data: more than the backup keeps in flight, so every one of its window's
    // segments is taken before the first put fails.
    await writeFile(join(d.data, 'video.raw'), randomBytes(30 * 1024 * 1024));
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: job app: target "disk": put data\/app\/\S+: ENOSPC: no space left on device, write \[E_STORAGE\]\n$/);
    const left = await readdir(disk, { recursive: true });
    const segments = left.filter((p) => /^repo\/data\/app\/[^/]+\/\d+$/.test(p));
    const checkpoints = left.filter((p) => p.startsWith('repo/checkpoints/') && p.endsWith('.json'));
    // Kept only for a resume, with a checkpoint that says what they hold; otherwise removed.
    if (checkpoints.length === 0) expect(segments).toEqual([]);
  });
});

describe('a restore that cannot fit', () => {
  it('is refused before anything is written when the files need more blocks than are free (in place: live data unchanged)', async (ctx) => {
    const disk = await tmpfs('size=3m');
    if (!disk) return ctx.skip();
    const data = join(disk, 'data');
    await mkdir(data);
    await writeFile(join(data, 'photo.raw'), randomBytes(2 * 1024 * 1024));
    await writeFile(join(data, 'notes.txt'), 'first version');
    const d = await makeDeployment({ jobs: `jobs:\n  app:\n    sources: [ { type: directory, path: ${data} } ]\n    targets: [disk]` });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await writeFile(join(data, 'notes.txt'), 'changed since');
    const before = await treeHash(disk);

    // Staging beside the live folder needs another 2 MiB; the file system has about 1 MiB left.
    const r = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: the restore needs at least 2\.0 MiB on the file system of .*data, which has [01]\.\d MiB free; nothing was changed \[E_NO_SPACE\]\n$/,
    );
    expect(await treeHash(disk)).toBe(before);
    expect(await readdir(disk)).toEqual(['data']);
  });

  it('is refused when it creates more files than the file system has inodes left', async (ctx) => {
    const disk = await tmpfs('size=8m,nr_inodes=8');
    if (!disk) return ctx.skip();
    const d = await makeDeployment({ jobs: appJob() });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const r = await runCli(['restore', 'latest', '--to', join(disk, 'restored'), '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /creates \d+ files and folders on the file system of .*restored.data, which has room for [0-7] more; nothing was changed \[E_NO_SPACE\]/,
    );
    expect(await readdir(disk)).toEqual([]);
  });
});

describe('a source folder that is a mount point (a USB disk, a NAS share)', () => {
  it('is restored file by file with --path, staged inside it; a whole in-place restore is refused before anything is written', async (ctx) => {
    const data = await tmpfs('size=8m');
    if (!data) return ctx.skip();
    await writeFile(join(data, 'photo-1.jpg'), 'first photo');
    await writeFile(join(data, 'photo-2.jpg'), 'second photo');
    const d = await makeDeployment({ jobs: `jobs:\n  app:\n    sources: [ { type: directory, path: ${data}, name: photos } ]\n    targets: [disk]` });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await rm(join(data, 'photo-1.jpg'));
    await writeFile(join(data, 'photo-2.jpg'), 'edited since');
    const before = await treeHash(data);

    const whole = await runCli(['restore', 'latest', '--yes', '-c', d.config], PASS);
    expect(whole.code).toBe(2);
    expect(whole.stderr).toBe(
      `error: cannot restore ${data} in place: it is a mount point, which a restore cannot swap; restore with --to DIR and copy the files in [E_USAGE]\n`,
    );
    expect(await treeHash(data)).toBe(before);

    const one = await runCli(['restore', 'latest', '--path', 'photo-*.jpg', '--yes', '-c', d.config, '--json'], PASS);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(await readFile(join(data, 'photo-1.jpg'), 'utf8')).toBe('first photo');
    expect(await readFile(join(data, 'photo-2.jpg'), 'utf8')).toBe('second photo');
    expect((await readdir(data)).filter((n) => !n.includes('.pre-restore-')).sort()).toEqual(['photo-1.jpg', 'photo-2.jpg']);
    // The safety snapshot, taken while the staging folder sat inside the source, holds the live data only.
    const safety: string = one.json().safetySnapshot;
    expect(safety).toMatch(/^\d{8}T\d{6}Z-/);
    const to = join(d.root, 'safety');
    const back = await runCli(['restore', safety, '--to', to, '-c', d.config], PASS);
    expect(back.code).toBe(0);
    expect(await readdir(join(to, 'photos'))).toEqual(['photo-2.jpg']);
    expect(await readFile(join(to, 'photos', 'photo-2.jpg'), 'utf8')).toBe('edited since');
  });
});

describe('a file system that fails while a restore stages', () => {
  it('a read-only disk: a backup onto it and a restore into a new folder on it are E_PERMISSION saying so', async (ctx) => {
    const disk = await tmpfs('size=8m');
    if (!disk) return ctx.skip();
    const d = await makeDeployment({ jobs: appJob() });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await mkdir(join(disk, 'repo'));
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    // Node's recursive mkdir reports a read-only file system as ENOENT: this was "not found" (E_NOT_FOUND).
    const onto = await makeDeployment({ targets: `targets:\n  disk: { type: local, path: ${join(disk, 'repo')} }`, jobs: appJob() });
    const backup = await runCli(['backup', '-c', onto.config], PASS);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/^error: job app: target "disk": put \S+: the file system is read-only \(EROFS\) \[E_PERMISSION\]\n$/);
    const restore = await runCli(['restore', 'latest', '--to', join(disk, 'new', 'folder'), '-c', d.config], PASS);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^error: cannot restore to .*new.folder.data: EROFS: read-only file system, mkdir .*\[E_PERMISSION\]\n$/);
  });

  it('read-only: E_PERMISSION naming the destination, nothing written', async (ctx) => {
    const disk = await tmpfs('size=8m');
    if (!disk) return ctx.skip();
    // The folder exists: node's recursive mkdir reports a missing parent on a read-only file system as ENOENT.
    await mkdir(join(disk, 'restored'));
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    const d = await makeDeployment({ jobs: appJob() });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const r = await runCli(['restore', 'latest', '--to', join(disk, 'restored'), '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot restore to .*restored.data: EROFS: read-only file system.*; live data was left as it was \[E_PERMISSION\]\n$/);
    expect(await readdir(join(disk, 'restored'))).toEqual([]);
  });

  it('maps a full disk to E_NO_SPACE and other errno errors to E_RESTORE; anything else passes through', () => {
    const full = thrownBy(() => writeFileSync('/dev/full', 'x'));
    const noSpace = fromStagingError(full, '/srv/app') as FailsafeError;
    expect(noSpace).toBeInstanceOf(FailsafeError);
    expect(noSpace.code).toBe('E_NO_SPACE');
    expect(noSpace.message).toMatch(/^no space left to restore to \/srv\/app: ENOSPC.*; live data was left as it was$/);
    expect(noSpace.cause).toBe(full);

    const missing = thrownBy(() => writeFileSync(join(tmpdir(), 'no-such-folder-failsafe', 'file'), 'x'));
    expect((fromStagingError(missing, '/srv/app') as FailsafeError).code).toBe('E_RESTORE');

    const ours = new FailsafeError('E_CHECKSUM', 'mismatch');
    expect(fromStagingError(ours, '/srv/app')).toBe(ours);
    const bug = new TypeError('undefined is not a function');
    expect(fromStagingError(bug, '/srv/app')).toBe(bug);
  });
});

function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
