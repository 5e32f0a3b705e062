/**
 * The crash-point sweep of a format-1 `prune` removing a snapshot by
 * retention: killed with SIGKILL from outside once the snapshot is marked
 * forgotten, once its manifest is deleted, and after each of its objects,
 * then the next `prune` runs. Afterwards only the kept snapshot is listed,
 * it passes `verify --read-data`, none of its objects changed, no object of
 * the removed one is left (the mark makes the next prune finish at once,
 * not after the orphans' grace of a day), and `recover --list` is empty.
 */
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDeployment, runCli, type Deployment } from '../helpers/cli.js';
import { hashes } from '../helpers/keys.js';
import { expectEveryPoint, killAt, timesReached, tracePoints } from '../helpers/pause.js';

/** Two snapshots of one job, of which retention keeps the newest. */
async function twoSnapshots(): Promise<{ d: Deployment; kept: string }> {
  // A key file rather than a passphrase: no key derivation in each of the many runs.
  const d = await makeDeployment({
    encryption: 'encryption: { keyFile: ./failsafe.key }',
    jobs: 'jobs:\n  app:\n    sources: [{ type: directory, path: ./app/data }]\n    targets: [disk]\n    retention: { keepLast: 1 }',
  });
  await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
  expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
  await writeFile(join(d.data, 'readings.csv'), 'changed between the backups');
  expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
  const listed = (await runCli(['list', '-c', d.config, '--json'])).json<{ id: string; createdAt: string }[]>();
  const kept = listed.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]!.id;
  return { d, kept };
}

/** Objects of the kept snapshot (by hash), and every snapshot folder under data/app/. */
async function stored(d: Deployment, kept: string): Promise<{ keptObjects: Record<string, string>; folders: string[] }> {
  return { keptObjects: await hashes(d.target, `data/app/${kept}`), folders: await readdir(join(d.target, 'data', 'app')) };
}

/** The removed snapshot's objects go one by one, each a point: its one segment, then the mark. */
const OBJECTS = 2;
const POINTS = ['prune-marked', 'prune-manifest-deleted', ...Array.from({ length: OBJECTS }, (_, i) => `prune-segment-deleted:${i + 1}`)];

describe('format-1 prune killed at every crash point', () => {
  beforeAll(async () => {
    const { d, kept } = await twoSnapshots();
    const traced = await tracePoints(['prune', '-c', d.config], {});
    expect(traced.code).toBe(0);
    expectEveryPoint('prune (format 1)', traced.points);
    expect(timesReached(traced.points, 'prune-segment-deleted')).toBe(OBJECTS);
    expect((await stored(d, kept)).folders).toEqual([kept]);
  }, 120_000);

  it.each(POINTS.map((p) => [p]))('killed at %s, the next prune finishes: only the kept snapshot, whole', { timeout: 120_000 }, async (point) => {
    const { d, kept } = await twoSnapshots();
    const before = await stored(d, kept);
    await killAt(point, ['prune', '-c', d.config], {});
    const next = await runCli(['prune', '-c', d.config, '--json']);
    expect(next.code).toBe(0);
    expect((await runCli(['list', '-c', d.config, '--json'])).json<{ id: string }[]>().map((s) => s.id)).toEqual([kept]);
    expect(await stored(d, kept)).toEqual({ keptObjects: before.keptObjects, folders: [kept] });
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
    expect((await runCli(['verify', '--all', '--read-data', '-c', d.config])).code).toBe(0);
  });
});
