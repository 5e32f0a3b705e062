/** `failsafe status` end to end: human and JSON output, exit 1 when critical, the Prometheus file. */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

describe('failsafe status', () => {
  it('critical before the first backup, ok after it; writes a Prometheus file', async () => {
    const d = await makeDeployment({
      jobs: appJob(`alertAfter: 26h`),
    });
    const before = await runCli(['status', '-c', d.config, '--json']);
    expect(before.code).toBe(1);
    expect(before.json()).toMatchObject({ health: 'critical', jobs: [{ job: 'app', problems: ['no snapshot yet'], alertAfterSeconds: 93600 }] });

    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    // The collector's folder exists already; status never creates one (a typo would silently write where nobody reads).
    const missing = await runCli(['status', '-c', d.config, '--prometheus', join(d.root, 'metrics', 'failsafe.prom')]);
    expect(missing.stderr).toMatch(/^error: cannot create .*failsafe\.prom: its folder does not exist \[E_USAGE\]\n$/);
    expect(missing.code).toBe(2);
    await expect(stat(join(d.root, 'metrics'))).rejects.toThrow(/ENOENT/);
    await mkdir(join(d.root, 'metrics'));
    const prom = join(d.root, 'metrics', 'failsafe.prom');
    const after = await runCli(['status', '-c', d.config, '--prometheus', prom]);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^app: ok, last success \S+Z \(\d+s ago\), \d+ files, /m);
    expect(after.stdout).toMatch(/^ {2}disk: 1 snapshot, .* stored$/m);
    expect(after.stdout).toMatch(/^health: ok$/m);
    const text = await readFile(prom, 'utf8');
    expect(text).toMatch(/^failsafe_snapshots\{job="app",target="disk"\} 1$/m);
    expect(text).toMatch(/^failsafe_health 0$/m);
  });

  it('a bad alertAfter is a config error with its line', async () => {
    const d = await makeDeployment({
      jobs: appJob(`alertAfter: 1m`),
    });
    const r = await runCli(['status', '-c', d.config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failsafe\.yaml:\d+:\d+: jobs\.app\.alertAfter: expected a duration in weeks, days or hours/);
  });
});
