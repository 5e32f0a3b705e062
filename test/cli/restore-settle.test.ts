/**
 * A restore killed at any instant is settled by the next command that
 * touches the deployment: backup settles it first (or refuses while it cannot
 * be), status reports it as critical, `recover --list` names it with what
 * settling does, prune and the next restore remove its staging folders, and a
 * signal makes a restore remove its own.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';
import { killAt, pauseAt } from '../helpers/pause.js';
import { treeHash } from '../helpers/tree.js';

async function prepared(): Promise<{ d: Deployment; live: () => Promise<string>; old: string }> {
  const d = await makeDeployment();
  expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
  await writeFile(join(d.data, 'readings.csv'), 'changed after the backup');
  await writeFile(d.appConfig, '{"name":"app","port":9090}');
  const live = async (): Promise<string> => `${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8')}`;
  return { d, live, old: await live() };
}

/** Staging folders, `.pre-restore-` copies and journals left behind. */
async function leftovers(d: Deployment): Promise<string[]> {
  const app = (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe') || n.includes('.pre-restore-'));
  const journals = await readdir(join(d.root, '.failsafe', 'restore-journal')).catch(() => [] as string[]);
  return [...app, ...journals];
}

const restoreArgs = (d: Deployment, ...more: string[]): string[] => ['restore', 'latest', '--yes', '--no-keep-previous', ...more, '-c', d.config];

describe('a restore killed mid-swap, then the next command', () => {
  it('status is critical, recover --list names it, and backup rolls it back before it reads the data', async () => {
    const { d, live, old } = await prepared();
    await killAt('swap:1', restoreArgs(d, '--no-safety-snapshot'));
    const mixed = await live();
    expect(mixed).not.toBe(old);

    const status = await runCli(['status', '-c', d.config], PASS);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/! a restore of app\/\S+ \(started .*\) was interrupted while swapping: the live data at .* may be part old, part new/);
    expect(status.stdout).toMatch(/health: critical\n$/);

    const listed = await runCli(['recover', '--list', '-c', d.config, '--json'], PASS);
    expect(listed.json()).toEqual([expect.objectContaining({ kind: 'restore', state: 'swapping', action: 'roll-back', running: false })]);
    expect((await runCli(['recover', '--list', '-c', d.config], PASS)).stdout).toMatch(/^restore-\S+: a restore of app\/.* rolls it back to the old data\n$/);
    expect(await live()).toBe(mixed); // listing changes nothing

    const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(backup.code).toBe(0);
    expect(backup.stderr).toMatch(/warning: an interrupted restore of app\/\S+ .* was rolled back/);
    expect(await live()).toBe(old);
    expect(await leftovers(d)).toEqual([]);
    // What the backup stored is the old data whole, not the mix.
    const out = await mkdtemp(join(tmpdir(), 'failsafe-settled-'));
    const id = backup.json().snapshots[0].id as string;
    expect((await runCli(['restore', id, '--to', out, '-c', d.config], PASS)).code).toBe(0);
    expect(`${await treeHash(join(out, 'data'))} ${await readFile(join(out, 'config', 'config.json'), 'utf8')}`).toBe(old);
    expect((await runCli(['status', '-c', d.config], PASS)).stdout).toMatch(/health: ok\n$/);
  });

  it('settling is idempotent: killed while rolling back, the next recover finishes the roll-back', async () => {
    const { d, live, old } = await prepared();
    await killAt('swap:2', restoreArgs(d, '--no-safety-snapshot'));
    await killAt('undo:1', ['recover', '--yes', '-c', d.config]);
    // Killed after the first undo rename: the new config is back in staging, the old one still aside.
    expect(await readFile(d.appConfig).catch(() => 'gone')).toBe('gone');
    const recovered = await runCli(['recover', '--yes', '-c', d.config, '--json'], PASS);
    expect(recovered.code).toBe(0);
    expect(recovered.json().restores).toEqual([expect.objectContaining({ outcome: 'rolled-back' })]);
    expect(await live()).toBe(old);
    expect(await leftovers(d)).toEqual([]);
  });
});

describe('a restore that cannot be settled yet', () => {
  it('refuses the backup of the sources it is swapping while it runs, with E_RESTORE_UNSETTLED', async () => {
    const { d, old, live } = await prepared();
    const running = await pauseAt('swap:1', restoreArgs(d, '--no-safety-snapshot'));
    try {
      const refused = await runCli(['backup', '-c', d.config], PASS);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: job app: not backed up, a restore of app\/\S+ .* is running \(swapping .*\) \[E_RESTORE_UNSETTLED\]$/m);
      expect((await runCli(['status', '-c', d.config], PASS)).stdout).toMatch(/! a restore of app\/\S+ .* is running/);
    } finally {
      running.child.kill('SIGKILL');
      await running.ended;
    }
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    expect(await live()).toBe(old);
  });

  it('refuses every backup while a journal cannot be read, and status is critical', async () => {
    const { d } = await prepared();
    const dir = join(d.root, '.failsafe', 'restore-journal');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'restore-20260101T000000Z-999999999.json'), '{"version":1,"state":"swa');
    const refused = await runCli(['backup', '-c', d.config], PASS);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not backed up, the journal of an interrupted restore, .* is unreadable.*\[E_RESTORE_UNSETTLED\]/);
    const status = await runCli(['status', '-c', d.config], PASS);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/is unreadable[^\n]*\nhealth: critical\n$/);
  });
});

describe('staging folders of a restore that died before its swap', () => {
  const stagingOf = async (d: Deployment): Promise<string[]> => (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe-staging-'));

  it('are listed by recover --list and removed by prune', async () => {
    const { d, live, old } = await prepared();
    await killAt('staged', restoreArgs(d, '--no-safety-snapshot'));
    expect(await stagingOf(d)).toHaveLength(2);
    expect((await runCli(['recover', '--list', '-c', d.config], PASS)).stdout).toMatch(
      /a restore of app\/\S+ .* was interrupted before it changed live data: the next command removes its staging folders .*\.failsafe-staging-/,
    );
    const prune = await runCli(['prune', '-c', d.config], PASS);
    expect(prune.code).toBe(0);
    expect(prune.stderr).toMatch(/warning: an interrupted restore of app\/\S+ .* had changed no live data; removed its staging folders/);
    expect(await leftovers(d)).toEqual([]);
    expect(await live()).toBe(old);
  });

  it("are removed by the next restore, which keeps the dead one's safety snapshot", async () => {
    const { d } = await prepared();
    await killAt('journal:safety', restoreArgs(d));
    expect(await stagingOf(d)).toHaveLength(2);
    const next = await runCli(restoreArgs(d, '--no-safety-snapshot'), PASS);
    expect(next.code).toBe(0);
    const safety = /had changed no live data; removed its staging folders for its sources \(its safety snapshot (\S+) is kept\)/.exec(next.stderr);
    expect(safety).not.toBeNull();
    expect((await runCli(['list', '--tag', 'pre-restore', '-c', d.config], PASS)).stdout).toContain(safety![1]!);
    expect(await leftovers(d)).toEqual([]);
  });

  it('are removed by the restore itself on SIGTERM', async () => {
    const { d, live, old } = await prepared();
    const paused = await pauseAt('staged', restoreArgs(d, '--no-safety-snapshot'));
    expect(await stagingOf(d)).toHaveLength(2);
    paused.child.kill('SIGTERM');
    const { code, stderr } = await paused.ended;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: restore cancelled by SIGTERM \[E_ABORTED\]$/m);
    expect(await leftovers(d)).toEqual([]);
    expect(await live()).toBe(old);
  });
});
