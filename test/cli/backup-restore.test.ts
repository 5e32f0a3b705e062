import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { tree } from '../helpers/tree.js';

async function objects(dir: string, base = ''): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(join(dir, base), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const rel = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await objects(dir, rel)));
    else found.push(rel);
  }
  return found.sort();
}

describe('backup → list → restore → verify', () => {
  it('round-trips a directory tree and a config file exactly', async () => {
    const d = await makeDeployment();
    const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const { snapshots } = backup.json<{ snapshots: { id: string; job: string; target: string; createdAt: string; bytes: number; files: number }[] }>();
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({ job: 'app', target: 'disk' });
    expect(snapshots[0]!.files).toBe(6); // README, readings.csv, 3 photos, config.json
    expect(Object.keys(snapshots[0]!).sort()).toEqual(['bytes', 'createdAt', 'files', 'id', 'job', 'target']);

    const list = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(list.code).toBe(0);
    expect(list.json()).toEqual([snapshots[0]]);

    const to = join(d.root, 'restored');
    const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--json'], PASS);
    expect(restore.code).toBe(0);
    expect(await tree(join(to, 'data'))).toEqual(await tree(d.data));
    expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toBe(await readFile(d.appConfig, 'utf8'));
    expect((await readdir(to)).sort()).toEqual(['config', 'data']); // no staging leftovers

    const verify = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], PASS);
    expect(verify.code).toBe(0);
    expect(verify.json()).toMatchObject({ ok: true, errors: [] });
    expect(verify.json().checked).toBeGreaterThan(6);
  });

  it('stores nothing readable: no file name or content appears in the target', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    for (const key of await objects(d.target)) {
      const bytes = await readFile(join(d.target, key));
      expect(bytes.includes('readings.csv')).toBe(false);
      expect(bytes.includes('moisture')).toBe(false);
    }
  });

  it('restores in place, keeping the replaced data aside', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const before = await tree(d.data);
    await writeFile(join(d.data, 'readings.csv'), 'overwritten by mistake');
    await rm(join(d.data, 'photos'), { recursive: true });
    await writeFile(d.appConfig, '{"broken": true}');

    const dry = await runCli(['restore', 'latest', '--dry-run', '-c', d.config, '--json'], PASS);
    expect(dry.code).toBe(0);
    expect(dry.json().dryRun).toBe(true);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).toBe('overwritten by mistake');

    const restore = await runCli(['restore', 'latest', '--yes', '-c', d.config, '--json'], PASS);
    expect(restore.code).toBe(0);
    expect(await tree(d.data)).toEqual(before);
    expect(JSON.parse(await readFile(d.appConfig, 'utf8'))).toEqual({ name: 'app', port: 8080 });
    const kept = restore.json().sources.flatMap((s: { previous: string[] }) => s.previous);
    expect(kept).toHaveLength(2);
    expect(
      await readFile(
        join(
          kept.find((p: string) => p.includes('data'))!,
          'readings.csv',
        ),
        'utf8',
      ),
    ).toBe('overwritten by mistake');
  });

  it('restores one source with --source, reading from its first segment', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'only-config');
    const restore = await runCli(['restore', 'latest', '--source', 'config', '--to', to, '-c', d.config], PASS);
    expect(restore.code).toBe(0);
    expect(await readdir(to)).toEqual(['config']);
    expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toContain('8080');
    const unknown = await runCli(['restore', 'latest', '--source', 'nope', '--to', to, '-c', d.config], PASS);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no source "nope"/);
  });

  it('works with a key file and with encryption: none', async () => {
    for (const encryption of ['encryption: { keyFile: ./failsafe.key }', 'encryption: none']) {
      const d = await makeDeployment({ encryption });
      if (encryption.includes('keyFile')) expect((await runCli(['keygen', '--out', join(d.root, 'failsafe.key')])).code).toBe(0);
      expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
      const to = join(d.root, 'restored');
      expect((await runCli(['restore', 'latest', '--to', to, '-c', d.config])).code).toBe(0);
      expect(await tree(join(to, 'data'))).toEqual(await tree(d.data));
      expect((await runCli(['verify', '--read-data', '-c', d.config])).code).toBe(0);
    }
  });

  it('splits large data over many segments and restores every byte (brotli, small segments)', async () => {
    const d = await makeDeployment({ compression: 'compression: { algorithm: brotli, level: 4 }', extraYaml: 'segmentSize: 1MiB' });
    const big = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(join(d.data, 'big.bin'), big);
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const segments = (await objects(d.target)).filter((k) => k.startsWith('data/'));
    expect(segments.length).toBeGreaterThanOrEqual(5);
    const to = join(d.root, 'restored');
    expect((await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS)).code).toBe(0);
    expect((await readFile(join(to, 'data', 'big.bin'))).equals(big)).toBe(true);
    expect((await stat(join(to, 'data', 'big.bin'))).size).toBe(big.length);
  });
});
