/** `backup --dry-run`, `--exclude` and `--include`. */
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

/** Files under `dir` and their bytes, as a backup reads them. */
async function files(dir: string): Promise<{ files: number; bytes: number }> {
  const found = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const sizes = await Promise.all(found.map(async (e) => (await stat(join(e.parentPath, e.name))).size));
  return { files: found.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

describe('backup --dry-run', () => {
  it('says what would be read per source, and writes nothing to the target', async () => {
    const d = await makeDeployment();
    const r = await runCli(['backup', '--dry-run', '-c', d.config, '--json'], PASS);
    expect(r.code, r.stderr).toBe(0);
    const data = await files(d.data);
    const config = (await stat(d.appConfig)).size;
    expect(r.json()).toEqual({
      dryRun: true,
      jobs: [
        {
          job: 'app',
          targets: ['disk'],
          sources: [
            { name: 'data', type: 'directory', entries: expect.any(Number), ...data },
            { name: 'config', type: 'config-file', entries: 1, files: 1, bytes: config },
          ],
          files: data.files + 1,
          bytes: data.bytes + config,
        },
      ],
    });
    // Not a lock, not a checkpoint, not a folder: the target was never touched.
    expect(await exists(d.target)).toBe(false);
    const human = await runCli(['backup', '--dry-run', '--exclude', '*.b64', '-c', d.config], PASS);
    expect(human.stdout).toMatch(/^job app → disk: would read \d+ files, /m);
    expect(human.stdout).toMatch(/^ {2}data \(directory\): 2 files, 114 B$/m);
    expect(human.stdout).toMatch(/^dry run: nothing was written$/m);
    expect(human.stderr).toMatch(/source config \(config-file\) is not a folder of files/);
    expect(await exists(d.target)).toBe(false);
  });
});

describe('backup --exclude and --include', () => {
  it('leave files out of this snapshot, and an in-place restore of it leaves the excluded live files be', async () => {
    const d = await makeDeployment();
    const excluded = await runCli(['backup', '--exclude', '*.b64', '--exclude', 'latest.csv', '-c', d.config, '--json'], PASS);
    expect(excluded.code, excluded.stderr).toBe(0);
    const ls = await runCli(['ls', 'latest', 'data', '-c', d.config, '--json'], PASS);
    const paths = ls.json<{ entries: { path: string }[] }>().entries.map((e) => e.path);
    expect(paths).toContain('README.txt');
    expect(paths.some((p) => p.endsWith('.b64') || p === 'latest.csv')).toBe(false);

    const restore = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '--no-keep-previous', '-c', d.config, '--json'], PASS);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await exists(join(d.data, 'photos', '2026', 'photo-1.jpg.b64'))).toBe(true);
    expect(await exists(join(d.data, 'latest.csv'))).toBe(true);

    const included = await runCli(['backup', '--include', 'readings.csv', '-c', d.config, '--json'], PASS);
    expect(included.code, included.stderr).toBe(0);
    const only = await runCli(['ls', 'latest', 'data', '-c', d.config, '--json'], PASS);
    expect(only.json<{ entries: { path: string }[] }>().entries.map((e) => e.path)).toEqual(['readings.csv']);
  });
});
