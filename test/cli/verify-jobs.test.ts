import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

// Three jobs alike; the one in the middle is never backed up.
const JOBS = `jobs:\n${['app', 'cfg', 'zzz'].map((job) => `  ${job}:\n    sources: [{ type: config-file, path: ./app/config.json }]\n    targets: [disk]`).join('\n')}`;

describe('verify of several jobs', () => {
  it('a job without snapshots is reported, and every other job is still verified', async () => {
    const d = await makeDeployment({ jobs: JOBS });
    expect((await runCli(['backup', 'app', 'zzz', '-c', d.config], PASS)).code).toBe(0);
    const result = await runCli(['verify', '-c', d.config, '--json'], PASS);
    expect(result.code).toBe(1);
    const report = result.json();
    expect(report.errors).toEqual([expect.objectContaining({ job: 'cfg', target: 'disk', code: 'E_SNAPSHOT_NOT_FOUND' })]);
    // zzz comes after the job without snapshots: it is verified all the same.
    const checked = async (job: string): Promise<number> => (await runCli(['verify', '--job', job, '-c', d.config, '--json'], PASS)).json().checked;
    expect(report.checked).toBe((await checked('app')) + (await checked('zzz')));
    const text = await runCli(['verify', '-c', d.config], PASS);
    expect(text.stdout).toMatch(/^FAILED cfg\/latest in disk: no snapshots .*\n$/);
  });
});
