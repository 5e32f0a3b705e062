/**
 * The crash-point sweep of `keys rotate` over two snapshots: killed with
 * SIGKILL from outside before and after each manifest rewrite, then the next
 * `keys rotate` completes; every snapshot then opens under the new key and
 * passes `verify --read-data`, and no data object changed (docs/reliability.md).
 */
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { hashes, JOBS } from '../helpers/keys.js';
import { expectEveryPoint, killAt, tracePoints } from '../helpers/pause.js';

const OLD = { FAILSAFE_PASSPHRASE: 'old passphrase' };
const NEW = { FAILSAFE_PASSPHRASE: 'new passphrase', OLD_PASSPHRASE: 'old passphrase' };

describe('keys rotate killed at every crash point', () => {
  it('an uninterrupted rotation passes every point listed for it, once per snapshot', { timeout: 120_000 }, async () => {
    const d = await makeDeployment({ jobs: JOBS });
    expect((await runCli(['backup', '-c', d.config], OLD)).code).toBe(0);
    const traced = await tracePoints(['keys', 'rotate', '--old-passphrase-env', 'OLD_PASSPHRASE', '-c', d.config], NEW);
    expect(traced.code).toBe(0);
    expectEveryPoint('keys rotate', traced.points);
    expect(traced.points.filter((p) => p.startsWith('rotate'))).toEqual(['rotate', 'rotate-written', 'rotate', 'rotate-written']);
  });

  for (const point of ['rotate:1', 'rotate-written:1', 'rotate:2', 'rotate-written:2']) {
    it(`killed at ${point}, the next rotate completes and every snapshot verifies under the new key`, { timeout: 120_000 }, async () => {
      const d = await makeDeployment({ jobs: JOBS });
      expect((await runCli(['backup', '-c', d.config], OLD)).code).toBe(0);
      const data = async (): Promise<Record<string, string>> => hashes(d.target, 'data');
      const before = await data();
      const rotate = ['keys', 'rotate', '--old-passphrase-env', 'OLD_PASSPHRASE', '-c', d.config];
      await killAt(point, rotate, NEW);
      const next = await runCli([...rotate, '--json'], NEW);
      expect(next.code).toBe(0);
      expect(next.json().failures).toEqual([]);
      const verify = await runCli(['verify', '--all', '--read-data', '-c', d.config, '--json'], NEW);
      expect(verify.code).toBe(0);
      expect((await runCli(['list', '-c', d.config, '--json'], NEW)).json()).toHaveLength(2);
      expect(await data()).toEqual(before);
    });
  }
});
