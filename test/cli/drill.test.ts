/** `failsafe drill`: the latest snapshot restored into scratch with every check, timed, and thrown away. */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { treeHash } from '../helpers/tree.js';

describe('failsafe drill', () => {
  it('restores the latest snapshot into scratch, reports time and sizes, removes the scratch, touches nothing live', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const latest = (await runCli(['list', '-c', d.config, '--json'], PASS)).json()[0];
    const scratch = join(d.root, 'scratch');
    await mkdir(scratch);
    const live = await treeHash(join(d.root, 'app'));
    const r = await runCli(['drill', '--scratch', scratch, '-c', d.config, '--json'], PASS);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = r.json();
    expect(report.ok).toBe(true);
    expect(report.jobs).toHaveLength(1);
    expect(report.jobs[0]).toMatchObject({ job: 'app', ok: true, id: latest.id, target: 'disk', bytes: latest.bytes });
    expect(report.jobs[0].seconds).toBeGreaterThan(0);
    expect(report.jobs[0].sources.map((s: { name: string }) => s.name)).toEqual(['data', 'config']);
    expect(await readdir(scratch)).toEqual([]);
    expect(await treeHash(join(d.root, 'app'))).toBe(live);
    const human = await runCli(['drill', 'app', '--scratch', scratch, '-c', d.config], PASS);
    expect(human.stdout).toMatch(
      new RegExp(`^drill app: restored ${latest.id} from disk in \\d+\\.\\d\\d s \\(\\d+ entries, .*\\); checks passed, scratch removed\\n$`),
    );
  });

  it("fails when the restored data fails a plugin's check (a config file that no longer parses)", async () => {
    const d = await makeDeployment();
    await writeFile(d.appConfig, '{"port": 80');
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const scratch = join(d.root, 'scratch');
    await mkdir(scratch);
    const r = await runCli(['drill', '--scratch', scratch, '-c', d.config, '--json'], PASS);
    expect(r.code).toBe(1);
    expect(r.json().jobs[0]).toMatchObject({ ok: false, error: { code: 'E_CHECK_FAILED' } });
    expect(r.stderr).toMatch(/^error: drill of app: config file config\.json does not parse as JSON.*\[E_CHECK_FAILED\]\n$/);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('fails with exit 3 on a damaged segment, and with exit 1 when there is no snapshot yet', async () => {
    const d = await makeDeployment();
    const none = await runCli(['drill', '-c', d.config], PASS);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('E_SNAPSHOT_NOT_FOUND');
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const segment = (await readdir(d.target, { recursive: true })).map(String).find((f) => /^data\/.*\/\d{8}$/.test(f))!;
    const bytes = await readFile(join(d.target, segment));
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(join(d.target, segment), bytes);
    const r = await runCli(['drill', '-c', d.config], PASS);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('E_CHECKSUM');
  });
});
