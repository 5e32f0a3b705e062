/** `failsafe daemon` as a real process: runs a per-second schedule, stops cleanly on SIGTERM; `schedule --systemd`. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');

describe('failsafe daemon', () => {
  it('backs up on schedule, records the run, and exits 0 on SIGTERM', async () => {
    const d = await makeDeployment({
      jobs: appJob(`schedule: "* * * * * *"`),
    });
    const child = spawn(process.execPath, [bin, 'daemon', '-c', d.config], { env: { PATH: process.env.PATH, ...PASS } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!/backup app: done/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/daemon started: backup app \(\* \* \* \* \* \*\)/);
    expect(stderr).toMatch(/SIGTERM: stopping/);
    expect(stderr).toMatch(/daemon stopped/);
    const listed = (await runCli(['list', '-c', d.config, '--json'])).json();
    expect(listed.length).toBeGreaterThanOrEqual(1);
    const state = JSON.parse(await readFile(join(d.root, '.failsafe-state.json'), 'utf8'));
    expect(state['backup app']).toMatchObject({ ok: true });
  });

  it('a second daemon on the same configuration refuses to run (exit 1, E_LOCKED) while the first runs, and the lock goes with the first', async () => {
    const d = await makeDeployment({ jobs: appJob(`schedule: "0 3 * * *"`) });
    const child = spawn(process.execPath, [bin, 'daemon', '-c', d.config], { env: { PATH: process.env.PATH, ...PASS } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!/daemon started/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const second = await runCli(['daemon', '-c', d.config], PASS);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`another failsafe daemon runs on this configuration \\(pid ${child.pid} on .*\\[E_LOCKED\\]`));
    await expect(readFile(join(d.root, '.failsafe-state.json.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses to start with nothing to schedule (exit 2), and a bad cron is a config error', async () => {
    const d = await makeDeployment();
    const r = await runCli(['daemon', '-c', d.config], PASS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to schedule/);
    const bad = await makeDeployment({
      jobs: appJob(`schedule: "61 2 * * *"`),
    });
    const b = await runCli(['daemon', '-c', bad.config], PASS);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/jobs\.app\.schedule: not a cron expression: Invalid value for minute: 61/);
  });
});

describe('failsafe schedule --systemd', () => {
  it('prints a service and a timer per scheduled job, and for prune', async () => {
    const d = await makeDeployment({
      extraYaml: 'timeZone: Europe/Berlin\nschedules: { prune: "0 3 * * *" }',
      jobs: appJob(`schedule: "0 2 * * *"
catchUp: true
jitterSeconds: 300`),
    });
    const r = await runCli(['schedule', '--systemd', '-c', d.config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ExecStart=/usr/bin/env failsafe backup app -c ${d.config}`);
    expect(r.stdout).toMatch(
      /# \/etc\/systemd\/system\/failsafe-backup-app\.timer\n[\s\S]*OnCalendar=\*-\*-\* 02:00:00 Europe\/Berlin\nPersistent=true\nRandomizedDelaySec=300/,
    );
    expect(r.stdout).toContain('ExecStart=/usr/bin/env failsafe prune -c');
  });
});
