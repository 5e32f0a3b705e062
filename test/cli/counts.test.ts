import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

describe('counts in human output', () => {
  it('one file is "1 file", not "1 files"', async () => {
    const d = await makeDeployment({
      jobs: `jobs:
  cfg:
    sources: [{ type: config-file, path: ./app/config.json }]
    targets: [disk]`,
    });
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^snapshot \S+ of cfg stored in disk: 1 file, /);
    const status = await runCli(['status', '-c', d.config], PASS);
    expect(status.stdout).toMatch(/^cfg: ok, last success .*, 1 file, /);
    const drill = await runCli(['drill', '-c', d.config], PASS);
    expect(drill.stdout).not.toMatch(/\b1 (files|entries)\b/);
  });
});
