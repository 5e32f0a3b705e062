/**
 * `hooks.afterRestore` (seed 004: restart the service, check its /health):
 * run after a successful in-place restore only, and a failing one reported
 * with E_HOOK (exit 1) while the restored data stays in place.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const RECORD = `echo "$FAILSAFE_HOOK $FAILSAFE_JOB $FAILSAFE_SNAPSHOT $FAILSAFE_SOURCES" > hook-ran`;

async function backedUp(hook: string): Promise<{ root: string; config: string; file: string; id: string }> {
  const d = await makeDeployment({ jobs: appJob(`hooks: { afterRestore: '${hook}', timeoutSeconds: 30 }`) });
  const file = join(d.data, 'restore-me.txt');
  await writeFile(file, 'as backed up');
  const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
  expect(backup.code, backup.stderr).toBe(0);
  await writeFile(file, 'changed since');
  return { root: d.root, config: d.config, file, id: backup.json().snapshots[0].id };
}

describe('hooks.afterRestore', () => {
  it('runs after an in-place restore, with the snapshot and the sources restored', async () => {
    const d = await backedUp(RECORD);
    const restore = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config], PASS);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await readFile(d.file, 'utf8')).toBe('as backed up');
    expect((await readFile(join(d.root, 'hook-ran'), 'utf8')).trim()).toBe(`afterRestore app ${d.id} data`);
  });

  it('does not run after a restore --to a folder or a dry run: nothing live changed', async () => {
    const d = await backedUp(RECORD);
    expect((await runCli(['restore', 'latest', '--to', join(d.root, 'elsewhere'), '-c', d.config], PASS)).code).toBe(0);
    expect((await runCli(['restore', 'latest', '--dry-run', '-c', d.config], PASS)).code).toBe(0);
    await expect(readFile(join(d.root, 'hook-ran'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('a failing hook: exit 1 with E_HOOK saying the restore stays in place, and the restored data is not rolled back', async () => {
    const d = await backedUp('echo health check failed >&2; exit 5');
    const restore = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config], PASS);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(
      /afterRestore hook exited with 5: health check failed — the restore of app\/\S+ itself succeeded and stays in place; the replaced data is kept as \S+\.pre-restore-\S+ \[E_HOOK\]/,
    );
    expect(await readFile(d.file, 'utf8')).toBe('as backed up');
  });
});
