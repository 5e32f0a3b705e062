/**
 * A config file Failsafe cannot parse (JSON with comments): the backup warns (the collect stage records a source's
 * warnings in the manifest), a
 * restore --to a folder still gives the file back (a warning), and what refuses it — a drill, an in-place restore —
 * says how to turn the check off (`check: none`).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

const COMMENTED = '{\n  // the port the app listens on\n  "port": 8080\n}\n';

describe('a config file that does not parse', () => {
  it('warns at backup, restores --to a folder, and names check: none where it is refused', async () => {
    const d = await makeDeployment();
    await writeFile(d.appConfig, COMMENTED);

    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/^warning: source "config": config file config\.json does not parse as JSON: .*`check: none`.*backed up as it is/m);

    const to = await mkdtemp(join(tmpdir(), 'failsafe-config-to-'));
    const restored = await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/^warning: .*does not parse as JSON.*restored anyway/m);
    expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toBe(COMMENTED);

    const drill = await runCli(['drill', '-c', d.config], PASS);
    expect(drill.code).toBe(1);
    expect(drill.stdout + drill.stderr).toMatch(/does not parse as JSON.*set `check: none` on the source/);
  });

  // The warning is counted in the public header, so status needs no key; a later clean backup is ok again.
  for (const format of [1, 2]) {
    it(`turns the job's health to warning in status until a clean backup (format ${format})`, async () => {
      const d = await makeDeployment({ extraYaml: format === 2 ? 'repository: { format: 2 }' : '' });
      await writeFile(d.appConfig, COMMENTED);
      expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);

      const status = await runCli(['status', '-c', d.config, '--json']);
      expect(status.code, status.stderr).toBe(0);
      const job = status.json().jobs[0];
      expect(status.json().health).toBe('warning');
      expect(job).toMatchObject({ health: 'warning', lastWarnings: 1 });
      expect(job.problems.join('\n')).toMatch(/newest snapshot \S+ recorded 1 warning at backup/);
      const human = await runCli(['status', '-c', d.config]);
      expect(human.stdout).toMatch(/^app: warning, /m);

      await writeFile(d.appConfig, '{ "port": 8080 }\n');
      expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
      const clean = await runCli(['status', '-c', d.config, '--json']);
      expect(clean.json().jobs[0]).toMatchObject({ health: 'ok', problems: [] });
      expect(clean.json().jobs[0].lastWarnings).toBeUndefined();
      // The header's count is checked against the body when the snapshot is read.
      expect((await runCli(['verify', '--all', '-c', d.config], PASS)).code).toBe(0);
    });
  }
});
