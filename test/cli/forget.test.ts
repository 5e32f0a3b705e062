/** `failsafe forget`: snapshots removed by id with prune's safety, in both formats. */
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';

const backup = async (d: Deployment): Promise<string> => {
  const r = await runCli(['backup', '-c', d.config, '--json'], PASS);
  expect(r.code, r.stderr).toBe(0);
  return r.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
};
const listed = async (d: Deployment): Promise<string[]> => (await runCli(['list', '-c', d.config, '--json'])).json<{ id: string }[]>().map((s) => s.id);

describe('failsafe forget', () => {
  it('removes the snapshots named, keeps the last one, and a dry run or a wrong id removes nothing', async () => {
    const d = await makeDeployment();
    const [a, b, c] = [await backup(d), await backup(d), await backup(d)];

    const dry = await runCli(['forget', a!, b!.slice(0, -2), '--dry-run', '-c', d.config, '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({
      dryRun: true,
      snapshots: [
        { id: a, action: 'remove' },
        { id: b, action: 'remove' },
      ],
    });
    expect(await listed(d)).toHaveLength(3);

    const unknown = await runCli(['forget', a!, 'ffffffffff', '-c', d.config]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/snapshot "ffffffffff" not found: nothing was removed \[E_SNAPSHOT_NOT_FOUND\]/);
    expect(await listed(d)).toHaveLength(3);
    expect((await runCli(['forget', 'latest', '-c', d.config])).code).toBe(2);

    const human = await runCli(['forget', a!, b!, '-c', d.config]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^removed ${a} {2}app @ disk$`, 'm'));
    expect(human.stdout).toMatch(/^2 removed, 0 kept$/m);
    expect(await listed(d)).toEqual([c]);
    // Format 1: the snapshot's segments went with it.
    expect(await readdir(join(d.target, 'data', 'app'))).toEqual([c]);

    const last = await runCli(['forget', c!, '-c', d.config]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/was not removed: last snapshot of the job/);
    expect(await listed(d)).toEqual([c]);
  });

  it('format 2: the packs only forgotten snapshots used go with the next prune, or at once with --prune', async () => {
    const d = await makeDeployment({ extraYaml: 'repository: { format: 2, packSize: 1MiB }' });
    const packFiles = async (): Promise<string[]> =>
      (await readdir(join(d.target, 'packs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((f) => join(f.parentPath, f.name));
    const packBytes = async (): Promise<number> => (await Promise.all((await packFiles()).map((f) => stat(f)))).reduce((sum, s) => sum + s.size, 0);
    await writeFile(join(d.data, 'big.bin'), randomBytes(2 * 1024 * 1024));
    const first = await backup(d);
    await rm(join(d.data, 'big.bin'));
    await backup(d);
    const before = await packBytes();

    const forgotten = await runCli(['forget', first, '-c', d.config]);
    expect(forgotten.code, forgotten.stderr).toBe(0);
    expect(forgotten.stdout).toMatch(/packs @ disk: those only these snapshots used go with the next `failsafe prune`/);
    expect(await packBytes()).toBe(before);

    await writeFile(join(d.data, 'big2.bin'), randomBytes(2 * 1024 * 1024));
    const third = await backup(d);
    await rm(join(d.data, 'big2.bin'));
    await backup(d);
    // Past the sweep's grace for young packs (a backup may be writing them): two hours old.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const pack of await packFiles()) await utimes(pack, old, old);
    const swept = await runCli(['forget', third, '--prune', '-c', d.config, '--json'], PASS);
    expect(swept.code, swept.stderr).toBe(0);
    expect(swept.json().packs.disk.removedPacks + swept.json().packs.disk.repacked).toBeGreaterThan(0);
    // Both big files' packs are gone: the earlier forget's and this one's.
    expect(await packBytes()).toBeLessThan(before - 2 * 1024 * 1024);
    const restored = join(d.root, 'restored');
    expect((await runCli(['restore', 'latest', '--to', restored, '-c', d.config], PASS)).code).toBe(0);
  });
});
