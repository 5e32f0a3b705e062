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
});
