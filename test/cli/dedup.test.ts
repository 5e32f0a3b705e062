/**
 * The CLI over a deduplicating repository (`repository: { format: 2 }`):
 * every command a user runs day to day, as a v1 user runs it, and a v1
 * snapshot already in the target still restoring beside the v2 ones.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { decode } from '../helpers/decoder.js';
import { tree, treeHash } from '../helpers/tree.js';

const V2 = 'repository: { format: 2 }';

describe('the CLI over a deduplicating repository', () => {
  it('backs up twice storing the data once, lists, drills, restores in place with a safety snapshot, prunes', async () => {
    const d = await makeDeployment({ extraYaml: V2 });
    const packs = async (): Promise<string[]> => (await readdir(join(d.target, 'packs'), { recursive: true })).sort();
    const first = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(first.code, first.stderr).toBe(0);
    const stored = await packs();
    const second = await runCli(['backup', '-c', d.config, '--json'], PASS);
    const [a, b] = [first, second].map((r) => r.json<{ snapshots: { id: string; createdAt: string }[] }>().snapshots[0]!);
    // Nothing changed: the second snapshot adds no pack.
    expect(await packs()).toEqual(stored);
    expect(await readdir(d.target)).toEqual(expect.arrayContaining(['config', 'index', 'packs', 'snapshots']));
    expect(await readdir(d.target)).not.toContain('manifests');

    const list = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(list.json<{ id: string }[]>().map((s) => s.id)).toEqual([b!.id, a!.id]);
    // The backup reports the date its snapshot object carries, to the millisecond.
    expect(list.json<{ createdAt: string }[]>().map((s) => s.createdAt)).toEqual([b!.createdAt, a!.createdAt]);

    const scratch = join(d.root, 'scratch');
    await mkdir(scratch);
    const drill = await runCli(['drill', '--scratch', scratch, '-c', d.config, '--json'], PASS);
    expect(drill.code, drill.stderr).toBe(0);
    expect(drill.json()).toMatchObject({ ok: true, jobs: [{ id: b!.id, ok: true }] });

    // In place: the live data changed, the restore brings the snapshot back and keeps a safety snapshot.
    const before = await treeHash(d.data);
    await writeFile(join(d.data, 'README.md'), 'changed\n');
    await writeFile(d.appConfig, '{"name":"app","port":9090}');
    const restore = await runCli(['restore', 'latest', '--yes', '-c', d.config, '--json'], PASS);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await treeHash(d.data)).toBe(before);
    expect(JSON.parse(await readFile(d.appConfig, 'utf8'))).toEqual({ name: 'app', port: 8080 });
    expect(restore.json<{ safetySnapshot?: string }>().safetySnapshot).toBeDefined();

    const verify = await runCli(['verify', '--all', '--read-data', '-c', d.config, '--json'], PASS);
    expect(verify.code, verify.stdout).toBe(0);

    // No key needed; the unchanged second backup added only its snapshot object.
    const stats = await runCli(['stats', '-c', d.config, '--json'], {});
    expect(stats.code, stats.stderr).toBe(0);
    type Stats = {
      target: string;
      ratio: number;
      storedBytes: number;
      logicalBytes: number;
      snapshots: { id: string; bytes: number; addedBytes: number; format: number }[];
    };
    const [disk] = stats.json<Stats[]>();
    expect(disk!.snapshots.filter((s) => s.format === 2).map((s) => s.id)).toEqual([a!.id, b!.id]);
    expect(disk!.snapshots.find((s) => s.id === b!.id)!.addedBytes).toBeLessThan(disk!.snapshots.find((s) => s.id === a!.id)!.addedBytes / 2);
    expect(disk!.logicalBytes).toBe(disk!.snapshots.reduce((n, s) => n + s.bytes, 0));
    expect(disk!.ratio).toBeCloseTo(disk!.logicalBytes / disk!.storedBytes, 6);
    const one = await runCli(['stats', b!.id, '-c', d.config], {});
    expect(one.stdout).toMatch(new RegExp(`^  ${b!.id}  app  format 2 `, 'm'));
    expect(one.stdout).not.toMatch(new RegExp(a!.id));

    const status = await runCli(['status', '-c', d.config], PASS);
    expect(status.stdout).toMatch(/deduplicating repository of .* \(shared by every job in it\)/);

    const prune = await runCli(['prune', '-c', d.config, '--dry-run'], PASS);
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toMatch(/^packs @ disk: would remove \d+ /m);
  });

  it('a target with format-1 snapshots takes format-2 ones beside them, and both restore', async () => {
    const d = await makeDeployment();
    const v1 = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(v1.code).toBe(0);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('jobs:', `${V2}\njobs:`));
    await writeFile(join(d.data, 'new.txt'), 'only in v2\n');
    const v2 = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(v2.code, v2.stderr).toBe(0);
    const ids = [v1, v2].map((r) => r.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id);
    const listed = (await runCli(['list', '-c', d.config, '--json'], PASS)).json<{ id: string }[]>().map((s) => s.id);
    expect(listed.sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const to = join(d.root, `restored-${id}`);
      const r = await runCli(['restore', id, '--to', to, '-c', d.config], PASS);
      expect(r.code, r.stderr).toBe(0);
      const names = Object.keys(await tree(join(to, 'data')));
      expect(names.includes('new.txt')).toBe(id === ids[1]);
    }
  });

  it('what the CLI wrote decodes without Failsafe (tools/decrypt-snapshot.mjs, from docs/format-v2.md)', async () => {
    const d = await makeDeployment({ extraYaml: V2 });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const out = join(d.root, 'decoded');
    const r = await decode(['--target', d.target, '--job', 'app', '--out', out, '--passphrase-env', 'FAILSAFE_PASSPHRASE'], PASS);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await tree(join(out, 'data'))).toEqual(await tree(d.data));
    expect(await readFile(join(out, 'config', 'config.json'), 'utf8')).toBe(await readFile(d.appConfig, 'utf8'));
  });

  it('tags a backup, lists by tag, refuses the reserved tag; a damaged snapshot object is named and list and stats exit 3', async () => {
    const d = await makeDeployment({ extraYaml: V2 });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const tagged = await runCli(['backup', '--tag', 'before-upgrade', '--force-reread', '-c', d.config, '--json'], PASS);
    expect(tagged.code, tagged.stderr).toBe(0);
    const id = tagged.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
    const byTag = await runCli(['list', '--tag', 'before-upgrade', '-c', d.config, '--json'], PASS);
    expect(byTag.json<{ id: string; tags: string[] }[]>()).toEqual([expect.objectContaining({ id, tags: ['before-upgrade'] })]);
    const reserved = await runCli(['backup', '--tag', 'pre-restore', '-c', d.config], PASS);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/reserved/);

    await writeFile(join(d.target, 'snapshots', 'app', id), '{"format": 2, "id": "x"');
    const list = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`snapshots/app/${id}`);
    expect(list.json<unknown[]>()).toHaveLength(1);
    // stats names it too and exits 3, with the readable snapshot's figures.
    const stats = await runCli(['stats', '-c', d.config, '--json'], PASS);
    expect(stats.code).toBe(3);
    expect(stats.stderr).toContain(`snapshots/app/${id}`);
    expect(stats.json<{ snapshots: unknown[] }[]>()[0]!.snapshots).toHaveLength(1);
  });

  it('refuses format 2 without encryption, naming the key (exit 2)', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none', extraYaml: V2 });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.stderr).toMatch(/repository\.format: a deduplicating repository is always encrypted/);
    expect(r.code).not.toBe(0);
  });
});
