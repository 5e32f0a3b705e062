/**
 * The safe restore: only the chosen paths, a plan that changes nothing, a
 * confirmation before live data is replaced, a safety snapshot first, and a
 * live result that is fully old or fully new whatever fails.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, runCliUnprivileged } from '../helpers/cli.js';
import { treeHash } from '../helpers/tree.js';

async function damage(d: { data: string; appConfig: string }): Promise<void> {
  await writeFile(join(d.data, 'readings.csv'), 'overwritten by mistake');
  await rm(join(d.data, 'photos', '2026', 'photo-2.jpg.b64'));
  await writeFile(join(d.data, 'stray.txt'), 'not in the snapshot');
  await writeFile(d.appConfig, '{"broken": true}');
}

describe('restore --path', () => {
  it('restores only the matching files in place and leaves every other live file alone', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const photo = await readFile(join(d.data, 'photos', '2026', 'photo-2.jpg.b64'));
    await damage(d);
    const r = await runCli(['restore', 'latest', '--path', 'photos/**', '--yes', '--no-safety-snapshot', '-c', d.config, '--json'], PASS);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json().sources.map((s: { name: string }) => s.name)).toEqual(['data']); // config has no match
    expect((await readFile(join(d.data, 'photos', '2026', 'photo-2.jpg.b64'))).equals(photo)).toBe(true);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).toBe('overwritten by mistake');
    expect(await readFile(join(d.data, 'stray.txt'), 'utf8')).toBe('not in the snapshot');
    expect(await readFile(d.appConfig, 'utf8')).toBe('{"broken": true}');
  });

  it('restores matching files into --to, with their parent folders only', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'some');
    const r = await runCli(['restore', 'latest', '--path', '*.csv', '--path', 'config.json', '--to', to, '-c', d.config], PASS);
    expect(r.code).toBe(0);
    expect((await readdir(join(to, 'data'))).sort()).toEqual(['latest.csv', 'readings.csv']); // latest.csv is a symlink
    expect(await readdir(join(to, 'config'))).toEqual(['config.json']);
    const none = await runCli(['restore', 'latest', '--path', 'nothing/**', '--to', to, '-c', d.config], PASS);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing in snapshot .* matches --path/);
  });
});

describe('restore --dry-run', () => {
  it('prints what is created, replaced and deleted, and changes nothing (tree hash before = after)', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await damage(d);
    const before = await treeHash(d.root);
    const dry = await runCli(['restore', 'latest', '--dry-run', '-c', d.config, '--json'], PASS);
    expect(dry.code).toBe(0);
    const data = dry.json().sources.find((s: { name: string }) => s.name === 'data');
    expect(data.changes.created).toEqual([join(d.data, 'photos', '2026', 'photo-2.jpg.b64')]);
    expect(data.changes.deleted).toEqual([join(d.data, 'stray.txt')]);
    expect(data.changes.replaced).toEqual([join(d.data, 'readings.csv')]);
    // Files the backup left as they were (same size and modification time) are told apart from changed ones.
    expect(data.changes.unchanged).toContain(join(d.data, 'README.txt'));
    expect(data.changes.unchanged).not.toContain(join(d.data, 'readings.csv'));
    const human = await runCli(['restore', 'latest', '--dry-run', '-c', d.config], PASS);
    expect(human.stdout).toMatch(/creates 1 file:\n\s+.*photo-2\.jpg\.b64/);
    expect(human.stdout).toMatch(/replaces 1 changed file:\n\s+.*readings\.csv\n/);
    expect(human.stdout).toMatch(/^ {2}\d+ files? unchanged \(same size and modification time\)$/m);
    expect(human.stdout).toMatch(/deletes 1 file:\n\s+.*stray\.txt/);
    expect(human.stdout).toContain('dry run: nothing was changed');
    expect(await treeHash(d.root)).toBe(before);
  });
});

describe('confirmation', () => {
  it('refuses to replace live data without --yes and without a terminal (exit 2), asks on a terminal', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await damage(d);
    const before = await treeHash(d.root);
    const refused = await runCli(['restore', 'latest', '-c', d.config], PASS);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/replaces live data.*--yes.*\[E_USAGE\]/);
    const declined = await runCli(['restore', 'latest', '-c', d.config], PASS, 'no\n');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('readings.csv'); // the plan was shown
    expect(declined.stderr).toContain('[E_ABORTED]');
    expect(await treeHash(d.root)).toBe(before);

    const accepted = await runCli(['restore', 'latest', '-c', d.config], PASS, 'yes\n');
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toMatch(/replaces \d+ changed files?/);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).not.toBe('overwritten by mistake');
  });

  it('needs no confirmation for a new, empty --to folder', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'fresh');
    await mkdir(to);
    expect((await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS)).code).toBe(0);
    // The same folder again: now it would replace data.
    expect((await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS)).code).toBe(2);
  });
});

describe('safety snapshot', () => {
  it('backs up the live data first, tagged pre-restore, and it restores the pre-restore state', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await damage(d);
    const damaged = await treeHash(d.data, 1000);
    const r = await runCli(['restore', 'latest', '--yes', '--no-keep-previous', '-c', d.config, '--json'], PASS);
    expect(r.code).toBe(0);
    const safety = r.json().safetySnapshot as string;
    expect(safety).toMatch(/^\d{8}T\d{6}Z-/);
    const list = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(list.json()).toHaveLength(2);
    expect(list.json().find((s: { id: string }) => s.id === safety).tags).toEqual(['pre-restore', 'pre-restore:data', 'pre-restore:config']);
    expect((await runCli(['list', '-c', d.config], PASS)).stdout).toMatch(new RegExp(`${safety}.*pre-restore`));
    expect(await treeHash(d.data, 1000)).not.toBe(damaged);

    const back = join(d.root, 'back');
    expect((await runCli(['restore', safety, '--to', back, '-c', d.config], PASS)).code).toBe(0);
    expect(await treeHash(join(back, 'data'), 1000)).toBe(damaged);
    expect(await readFile(join(back, 'config', 'config.json'), 'utf8')).toBe('{"broken": true}');
  });

  it('--no-safety-snapshot takes none', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await damage(d);
    const r = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config, '--json'], PASS);
    expect(r.code).toBe(0);
    expect(r.json().safetySnapshot).toBeUndefined();
    expect((await runCli(['list', '-c', d.config, '--json'], PASS)).json()).toHaveLength(1);
  });
});

describe('a corrupted snapshot', () => {
  it('is refused before any live file changes, even when the damage is in the last segment', async () => {
    const d = await makeDeployment({ extraYaml: 'segmentSize: 1MiB' });
    await writeFile(join(d.data, 'zz-big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const segments = (await readdir(d.target, { recursive: true }))
      .map(String)
      .filter((f) => /^data\/.*\/\d{8}$/.test(f))
      .sort();
    expect(segments.length).toBeGreaterThan(2);
    const last = join(d.target, segments.at(-1)!);
    const bytes = await readFile(last);
    bytes[bytes.length >> 1]! ^= 0x80;
    await writeFile(last, bytes);
    await damage(d);
    // Staging sits beside the live data (in app/), so app/ itself gets a new mtime; what it holds must not change.
    const live = async (): Promise<string> => `${await treeHash(d.data)} ${await treeHash(d.appConfig)} ${(await readdir(join(d.root, 'app'))).join()}`;
    const before = await live();
    const r = await runCli(['restore', 'latest', '--yes', '-c', d.config], PASS);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/checksum mismatch.*\[E_CHECKSUM\]/);
    expect(await live()).toBe(before);
    expect((await runCli(['list', '-c', d.config, '--json'], PASS)).json()).toHaveLength(1); // no safety snapshot either
  });
});

describe('modes, times and owners', () => {
  const asRoot = process.getuid?.() === 0;
  it.runIf(asRoot)('restores owners (uid/gid) as root, with modes and mtimes, for tree entries and config files', async () => {
    const { chown, chmod, lstat, lchown, symlink, utimes } = await import('node:fs/promises');
    const d = await makeDeployment();
    await chown(join(d.data, 'readings.csv'), 65534, 65534);
    await chmod(join(d.data, 'readings.csv'), 0o640);
    await chown(join(d.data, 'photos'), 1234, 4321);
    await symlink('readings.csv', join(d.data, 'owned-link'));
    await lchown(join(d.data, 'owned-link'), 2222, 3333);
    await chown(d.appConfig, 65534, 100);
    await chmod(d.appConfig, 0o600);
    await utimes(d.appConfig, new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'restored');
    expect((await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS)).code).toBe(0);
    const facts = async (path: string): Promise<string> => {
      const i = await lstat(path);
      return `${i.uid}:${i.gid}:${(i.mode & 0o7777).toString(8)}`;
    };
    expect(await facts(join(to, 'data', 'readings.csv'))).toBe('65534:65534:640');
    expect(await facts(join(to, 'data', 'photos'))).toBe(`1234:4321:${((await lstat(join(d.data, 'photos'))).mode & 0o7777).toString(8)}`);
    expect((await lstat(join(to, 'data', 'owned-link'))).uid).toBe(2222);
    expect(await facts(join(to, 'config', 'config.json'))).toBe('65534:100:600');
    expect((await lstat(join(to, 'config', 'config.json'))).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
  });

  it.runIf(asRoot)('keeps the restoring user as owner when not root (no EPERM from giving files away)', async () => {
    const { chown, chmod, lstat, readdir: list, stat } = await import('node:fs/promises');
    const d = await makeDeployment();
    await chown(join(d.data, 'readings.csv'), 1234, 1234);
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    for (const path of [d.root, ...(await list(d.root, { recursive: true })).map((p) => join(d.root, String(p)))]) {
      await chmod(path, (await stat(path)).isDirectory() ? 0o777 : 0o666);
    }
    const to = join(d.root, 'mine');
    const r = await runCliUnprivileged(['restore', 'latest', '--to', to, '-c', d.config], PASS);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await lstat(join(to, 'data', 'readings.csv'))).uid).toBe(65534);
  });
});
