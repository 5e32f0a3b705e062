/** The common options (-c, --json, --debug) before the command, and --json when the command line itself is wrong. */
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

describe('common options', () => {
  it('are taken before the command as after it, nested commands included', async () => {
    const d = await makeDeployment();
    const listed = await runCli(['--json', '-c', d.config, 'list'], PASS);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json()).toEqual([]);
    expect((await runCli([`--config=${d.config}`, 'config', 'validate'], PASS)).code).toBe(0);
  });

  it('--json prints a usage error as one JSON document on stdout (exit 2)', async () => {
    const wrong = await runCli(['list', '--bogus', '--json']);
    expect(wrong.code).toBe(2);
    expect(wrong.json()).toEqual({ error: { code: 'E_USAGE', message: "unknown option '--bogus'" } });
    expect(wrong.stderr).toMatch(/unknown option '--bogus'/);
  });
});
