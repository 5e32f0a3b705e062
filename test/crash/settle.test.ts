/**
 * The crash-point sweep of settling a restore: an in-place restore of two
 * sources is killed once both are swapped in (before its checks, so settling
 * rolls it back), then `recover` settling it is killed with SIGKILL from
 * outside at each rename of the roll-back and before the journal goes. The
 * next ordinary command (`backup`) settles it again the same way: the live
 * data entirely old by hash, nothing left that `recover --list` would report,
 * every snapshot passing `verify --read-data`.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli, type Deployment } from '../helpers/cli.js';
import { expectEveryPoint, killAt, timesReached, tracePoints } from '../helpers/pause.js';
import { treeHash } from '../helpers/tree.js';

/** Two sources swapped, each one rename back in and one out: four renames, then the clean-up. */
const POINTS = ['undo:1', 'undo:2', 'undo:3', 'undo:4', 'settle:cleaned'];

/** A deployment backed up, its live data changed since, and a restore of the backup killed with both sources swapped. */
async function killedMidSwap(): Promise<{ d: Deployment; live: () => Promise<string>; old: string }> {
  // A key file rather than a passphrase: no key derivation in each of the many runs.
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
  await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
  expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
  await writeFile(join(d.data, 'readings.csv'), 'changed after the backup');
  await writeFile(d.appConfig, '{"name":"app","port":9090}');
  const live = async (): Promise<string> => `${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8').catch(() => 'gone')}`;
  const old = await live();
  await killAt('swap:2', ['restore', 'latest', '--yes', '--no-keep-previous', '--no-safety-snapshot', '-c', d.config], {});
  expect(await live()).not.toBe(old);
  return { d, live, old };
}

async function leftovers(d: Deployment): Promise<string[]> {
  const app = (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe') || n.includes('.pre-restore-'));
  return [...app, ...(await readdir(join(d.root, '.failsafe', 'restore-journal')).catch(() => [] as string[]))];
}

describe('settling a restore killed at every crash point', () => {
  it('an uninterrupted roll-back passes every point listed for settling, as often as swept', { timeout: 120_000 }, async () => {
    const { d, live, old } = await killedMidSwap();
    const traced = await tracePoints(['recover', '--yes', '-c', d.config], {});
    expect(traced.code).toBe(0);
    expectEveryPoint('settling a restore', traced.points);
    expect(timesReached(traced.points, 'undo')).toBe(4);
    expect(await live()).toBe(old);
  });

  it.each(POINTS.map((p) => [p]))('killed at %s, the next backup settles it again: the live data entirely old', { timeout: 120_000 }, async (point) => {
    const { d, live, old } = await killedMidSwap();
    await killAt(point, ['recover', '--yes', '-c', d.config], {});
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    expect(await live()).toBe(old);
    expect(await leftovers(d)).toEqual([]);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
    expect((await runCli(['verify', '--all', '--read-data', '-c', d.config])).code).toBe(0);
  });
});
