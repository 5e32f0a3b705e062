import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

describe('restore --to', () => {
  it('an empty or blank --to (an unset $DIR in a script) is a usage error, never an in-place restore', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const live = join(d.data, 'changed-after-backup.txt');
    await writeFile(live, 'live data');
    for (const to of ['', '   ']) {
      const result = await runCli(['restore', 'latest', '--to', to, '--yes', '--no-safety-snapshot', '-c', d.config], PASS);
      expect(result.stderr).toMatch(/^error: the destination --to is empty.*\[E_USAGE\]\n$/);
      expect(result.code).toBe(2);
      expect(await readFile(live, 'utf8')).toBe('live data');
    }
  });

  it('--source and --path take one value each, so the snapshot id after them is the snapshot', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'restored');
    const r = await runCli(['restore', '--source', 'config', '--path', 'config.json', 'latest', '--to', to, '-c', d.config], PASS);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(to, 'config', 'config.json'), 'utf8'))).toEqual({ name: 'app', port: 8080 });
  });

  it('a blank --path and a drill --scratch folder that does not exist are usage errors (exit 2), not unexpected ones', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const blank = await runCli(['restore', 'latest', '--path', '', '--to', join(d.root, 'out'), '-c', d.config], PASS);
    expect(blank.stderr).toMatch(/^error: a --path is empty or blank .*\[E_USAGE\]\n$/);
    expect(blank.code).toBe(2);
    const drill = await runCli(['drill', '--scratch', join(d.root, 'missing'), '-c', d.config], PASS);
    expect(drill.stderr).toMatch(/^error: --scratch .*missing is not a folder: make it.*\[E_USAGE\]\n$/);
    expect(drill.code).toBe(2);
  });
});
