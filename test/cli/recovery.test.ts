/** failsafe recover / resume / unlock after a backup killed mid-upload. */
import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { crashDeployment, localCrashTarget, runCliProcess } from '../helpers/crash-recovery.js';

async function interrupted() {
  const d = await crashDeployment(async (root) => localCrashTarget(root));
  // Killed as the seventh segment is stored: a segment is made only with one of the window's five permits, and a
  // permit comes back only once a checkpoint recording a stored segment is durable, so at least two are recorded
  // by then whatever the timing (at the fourth, as before, one could still be on its way to disk).
  const killed = await runCliProcess(['backup', '-c', d.config], { FAILSAFE_TEST_CRASH: 'stored:7' });
  expect(killed.signal).toBe('SIGKILL');
  return d;
}

describe('recover, resume and unlock', () => {
  it("an interrupted backup after an earlier one shows its progress against that snapshot's size", { timeout: 60_000 }, async () => {
    const d = await crashDeployment(async (root) => localCrashTarget(root));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const killed = await runCliProcess(['backup', '-c', d.config], { FAILSAFE_TEST_CRASH: 'stored:7' });
    expect(killed.signal).toBe('SIGKILL');
    const [op] = (await runCli(['recover', '--list', '-c', d.config, '--json'])).json();
    expect(op.progress).toBeGreaterThan(0);
    expect(op.progress).toBeLessThan(1);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toMatch(/ — running, \d+%, \d+ segments /);
  });

  it('a backup killed after its manifest was written is complete: recover lists nothing', { timeout: 30_000 }, async () => {
    const d = await crashDeployment(async (root) => localCrashTarget(root));
    const killed = await runCliProcess(['backup', '-c', d.config], { FAILSAFE_TEST_CRASH: 'manifest-written:1' });
    expect(killed.signal).toBe('SIGKILL');
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toHaveLength(1);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
  });

  it('recover lists the interrupted backup, refuses to act without a terminal or --yes (exit 2), and resumes with --yes', { timeout: 30_000 }, async () => {
    const d = await interrupted();
    const listed = await runCli(['recover', '--list', '-c', d.config, '--json']);
    expect(listed.code).toBe(0);
    const [op] = listed.json();
    expect(op).toMatchObject({ operationId: 'backup.app', job: 'app', state: 'running', target: 'store' });
    expect(op.segments).toBeGreaterThanOrEqual(2);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toMatch(
      /^backup\.app: backup of app, snapshot \S+ — running, \d segments \([\d.]+ MiB\) stored/,
    );

    const refused = await runCli(['recover', '-c', d.config]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/recover needs a terminal to ask; pass --yes .*\[E_USAGE\]/);

    // Asked as restore asks, on stderr (stdout stays for --json); "no" leaves the operation as it was.
    const declined = await runCli(['recover', '-c', d.config], {}, 'no\n');
    expect(declined.code).toBe(0);
    expect(declined.stderr).toMatch(/^Resume backup of app \(running, .*\)\? \(yes\/no\) /);
    expect(declined.stdout).not.toMatch(/\?/);
    expect((await runCli(['recover', '--list', '-c', d.config, '--json'])).json()).toEqual(listed.json());

    const resumed = await runCli(['recover', '--yes', '-c', d.config, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const [snapshot] = resumed.json().snapshots;
    expect(snapshot.id).toBe(op.snapshotId);
    expect(snapshot.resumed.reusedSegments).toBe(op.segments);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
    expect((await runCli(['resume', '-c', d.config])).stdout).toBe('nothing to resume\n');
  });

  it('resume continues the interrupted backup of a job', { timeout: 30_000 }, async () => {
    const d = await interrupted();
    const resumed = await runCli(['resume', 'app', '-c', d.config, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json().snapshots[0].resumed.reusedSegments).toBeGreaterThanOrEqual(2);
    expect((await runCli(['verify', 'latest', '--read-data', '-c', d.config])).code).toBe(0);
  });

  it("recover --discard --yes removes the stored leftovers and the checkpoints; unlock removes the dead run's lock", { timeout: 30_000 }, async () => {
    const d = await interrupted();
    expect((await d.target.keys()).some((k) => k.startsWith('data/'))).toBe(true);
    const unlocked = await runCli(['unlock', '-c', d.config, '--json']);
    expect(unlocked.code).toBe(0);
    expect(unlocked.json()).toEqual([expect.objectContaining({ target: 'store', stale: true, holder: expect.stringMatching(/no longer running/) })]);
    expect((await runCli(['unlock', '-c', d.config])).stdout).toBe('no lock to remove\n');

    const discarded = await runCli(['recover', '--discard', '--yes', '-c', d.config, '--json']);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(discarded.json()).toEqual({ discarded: ['backup.app'] });
    expect(await d.target.keys()).toEqual([]);
    // The next backup starts afresh.
    const fresh = await runCli(['backup', '-c', d.config, '--json']);
    expect(fresh.json().snapshots[0].resumed).toBeUndefined();
  });
});

describe('the daemon at start', () => {
  it('resumes an interrupted backup before its first schedule, then stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    const d = await interrupted();
    const [op] = (await runCli(['recover', '--list', '-c', d.config, '--json'])).json();
    // A schedule that will not fire during the test: only the start-up recovery can complete the snapshot.
    await appendFile(d.config, '    schedule: "0 0 1 1 *"\n');
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
    const child = spawn(process.execPath, [bin, 'daemon', '-c', d.config], { env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const deadline = Date.now() + 40_000;
    while (!/daemon started/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain(`recovery: resumed the interrupted backup of app: snapshot ${op.snapshotId} stored in store`);
    expect(stderr.indexOf('recovery: resumed')).toBeLessThan(stderr.indexOf('daemon started'));
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
    const listed = (await runCli(['list', '-c', d.config, '--json'])).json();
    expect(listed.map((s: { id: string }) => s.id)).toEqual([op.snapshotId]);
    expect((await runCli(['verify', 'latest', '--read-data', '-c', d.config])).code).toBe(0);
  });
});
