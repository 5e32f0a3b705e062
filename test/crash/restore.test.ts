/**
 * The crash-point sweep of an in-place restore of two sources (a folder and a
 * config file) with a safety snapshot: killed with SIGKILL from outside at
 * every durable step in turn (each journal write, each rename, the commit and
 * the clean-up), then the next ordinary command (`backup`) runs. Afterwards
 * the live data is entirely old or entirely new by hash, nothing is left that
 * `recover --list` would report, and every snapshot listed passes
 * `verify --read-data` (docs/reliability.md counts the points).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';
import { CRASH_POINTS } from '../../core/testing/crash-points.js';
import { expectEveryPoint, killAt, timesReached, tracePoints } from '../helpers/pause.js';
import { treeHash } from '../helpers/tree.js';

/** Every pause point an in-place restore of two existing sources passes, in order, and the data a kill there leaves once settled. */
const RESTORE_POINTS: { point: string; ends: 'old' | 'new' }[] = [
  { point: 'journal:staging', ends: 'old' }, // the journal, before the first staging folder
  { point: 'staged', ends: 'old' }, // every source staged, flushed and checked
  { point: 'journal:safety', ends: 'old' }, // the safety snapshot stored and recorded
  { point: 'journal:swapping', ends: 'old' }, // every move recorded, nothing renamed yet
  { point: 'aside:1', ends: 'old' }, // the first live path renamed aside
  { point: 'swap:1', ends: 'old' }, // its staged copy renamed in: the live data is mixed
  { point: 'aside:2', ends: 'old' },
  { point: 'swap:2', ends: 'old' }, // every source swapped, the live checks not run
  { point: 'journal:committed', ends: 'new' }, // the journal says committed
  { point: 'settle:cleaned', ends: 'new' }, // replaced copies and staging removed, the journal not yet
];

async function leftovers(d: Deployment): Promise<string[]> {
  const app = (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe') || n.includes('.pre-restore-'));
  const journals = await readdir(join(d.root, '.failsafe', 'restore-journal')).catch(() => [] as string[]);
  return [...app, ...journals];
}

describe('restore killed at every crash point', () => {
  it('an uninterrupted restore passes every point listed for it, each as often as swept', { timeout: 120_000 }, async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await writeFile(d.appConfig, '{"name":"app","port":9090}');
    const traced = await tracePoints(['restore', 'latest', '--yes', '--no-keep-previous', '-c', d.config]);
    expect(traced.code).toBe(0);
    expectEveryPoint('restore in place', traced.points);
    const swept = new Set(RESTORE_POINTS.map(({ point }) => point));
    // Each time a point is reached is swept: once by its name, more often as <point>:<n>.
    for (const point of CRASH_POINTS['restore in place']) {
      const times = timesReached(traced.points, point);
      const armed = times === 1 ? [point] : Array.from({ length: times }, (_, i) => `${point}:${i + 1}`);
      expect(armed.filter((a) => !swept.has(a))).toEqual([]);
    }
  });

  for (const { point, ends } of RESTORE_POINTS) {
    it(`killed at ${point}, the next backup finds the live data ${ends} and whole`, { timeout: 120_000 }, async () => {
      const d = await makeDeployment();
      const live = async (): Promise<string> => `${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8')}`;
      const fresh = await live();
      expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
      await writeFile(join(d.data, 'readings.csv'), 'changed after the backup');
      await writeFile(d.appConfig, '{"name":"app","port":9090}');
      const old = await live();

      await killAt(point, ['restore', 'latest', '--yes', '--no-keep-previous', '-c', d.config]);
      const backup = await runCli(['backup', '-c', d.config], PASS);
      expect(backup.code).toBe(0);
      expect(await live()).toBe(ends === 'old' ? old : fresh);
      expect(await leftovers(d)).toEqual([]);
      expect((await runCli(['recover', '--list', '-c', d.config], PASS)).stdout).toBe('nothing to recover\n');
      const verify = await runCli(['verify', '--all', '--read-data', '-c', d.config], PASS);
      expect(verify.code).toBe(0);
    });
  }
});
