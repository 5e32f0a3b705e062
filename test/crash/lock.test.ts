/**
 * The crash-point sweep of a lock take-over: a backup finds the stale lock of
 * a backup on another host that went silent, and is killed with SIGKILL from
 * outside at each step of taking the job's lock over (its own lock written,
 * the stale one removed, no other holder found). Then the next backup still
 * gets the lock, and while it holds it a third one is refused (E_LOCKED): never
 * two holders. Once that holder is gone too, an ordinary backup completes,
 * leaves no lock behind, and every snapshot passes `verify --read-data`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LockRecord } from '../../core/repository/locks.js';
import { CRASH_POINTS } from '../../core/testing/crash-points.js';
import { makeDeployment, runCli, type Deployment } from '../helpers/cli.js';
import { expectEveryPoint, killAt, pauseAt, tracePoints } from '../helpers/pause.js';

/** A key file rather than a passphrase: no key derivation in each of the many runs. */
async function deployment(): Promise<Deployment> {
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
  await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
  return d;
}

/** The lock of a backup on another host that has not renewed it for an hour: stale, to be taken over. */
async function plantStaleLock(d: Deployment): Promise<void> {
  const hour = new Date(Date.now() - 3_600_000).toISOString();
  const record: LockRecord = { job: 'app', owner: 'elsewhere-4242-00c0ffee', host: 'elsewhere', pid: 4242, startedAt: hour, heartbeat: hour, leaseMs: 120_000 };
  await mkdir(join(d.target, 'locks', 'app'), { recursive: true });
  await writeFile(join(d.target, 'locks', 'app', `${record.owner}.json`), JSON.stringify(record));
}

const locks = (d: Deployment): Promise<string[]> => readdir(join(d.target, 'locks', 'app')).catch(() => []);

describe('lock take-over killed at every crash point', () => {
  it('an uninterrupted take-over passes every point listed for it', { timeout: 120_000 }, async () => {
    const d = await deployment();
    await plantStaleLock(d);
    const traced = await tracePoints(['backup', '-c', d.config], {});
    expect(traced.code).toBe(0);
    expect(traced.stderr).toContain('took over a stale lock of job app');
    expectEveryPoint('lock take-over', traced.points);
    expect(await locks(d)).toEqual([]);
  });

  it.each(CRASH_POINTS['lock take-over'].map((p) => [p]))(
    'killed at %s, the next backup still gets the lock, and only it',
    { timeout: 180_000 },
    async (point) => {
      const d = await deployment();
      await plantStaleLock(d);
      const backup = ['backup', '-c', d.config];
      await killAt(point, backup, {});
      // The killed backup's own lock (if written) names a dead process on this host: stale in its turn.
      const holder = await pauseAt('lock-taken', backup, {});
      try {
        const third = await runCli([...backup, '--json'], {});
        expect(third.code).toBe(1);
        expect(third.stderr).toContain('E_LOCKED');
        expect(await locks(d)).toHaveLength(1);
      } finally {
        holder.child.kill('SIGKILL');
        await holder.ended;
      }
      expect((await runCli(backup, {})).code).toBe(0);
      expect(await locks(d)).toEqual([]);
      expect((await runCli(['recover', '--list', '-c', d.config], {})).stdout).toBe('nothing to recover\n');
      expect((await runCli(['verify', '--all', '--read-data', '-c', d.config], {})).code).toBe(0);
    },
  );
});
