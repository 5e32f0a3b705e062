/** Hooks from the YAML: a failing before aborts the job with E_HOOK (exit 1) and no snapshot. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const job = (hooks: string): string => appJob(`hooks: ${hooks}`);

describe('hooks', () => {
  it('a failing before: exit 1, E_HOOK, no snapshot, onError ran', async () => {
    const d = await makeDeployment({ jobs: job(`{ before: "exit 7", onError: "echo $FAILSAFE_ERROR_CODE > failed", timeoutSeconds: 30 }`) });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: job app: before hook exited with 7 \[E_HOOK\]$/m);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toEqual([]);
    expect((await readFile(join(d.root, 'failed'), 'utf8')).trim()).toBe('E_HOOK');
  });

  it('before and after wrap a successful backup', async () => {
    const d = await makeDeployment({ jobs: job(`{ before: "echo stopped > state", after: "echo started-$FAILSAFE_STATUS > state" }`) });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    expect((await readFile(join(d.root, 'state'), 'utf8')).trim()).toBe('started-success');
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toHaveLength(1);
  });
});
