/**
 * `onSourceError: continue`: a source that fails (a dump command exiting
 * non-zero, a missing folder) is left out of the snapshot and reported, exit
 * 4, while the job's other sources are backed up; with the default `fail` the
 * whole job fails and no snapshot is made.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

function jobs(onSourceError: string | undefined, second: string): string {
  return `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
      - ${second}
      - { type: config-file, path: ./app/config.json, name: config }
    targets: [disk]${onSourceError ? `\n    onSourceError: ${onSourceError}` : ''}`;
}

const FAILING_DUMP = `{ type: command, name: db, command: "echo half a dump; echo pg_dump: connection refused >&2; exit 3" }`;
const MISSING_FOLDER = `{ type: directory, name: uploads, path: ./app/uploads }`;

describe('onSourceError', () => {
  it.each([
    ['format 1', ''],
    ['format 2', 'repository: { format: 2 }'],
  ])('continue (%s): the failing source is reported and left out, the others are in the snapshot (exit 4)', async (_format, extraYaml) => {
    const d = await makeDeployment({ jobs: jobs('continue', FAILING_DUMP), extraYaml });
    const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(backup.code).toBe(4);
    expect(backup.stderr).toMatch(/^error: job app, source db \(left out of the snapshot\): .*exited with code 3.*\[E_SOURCE_READ\]$/m);
    const result = backup.json();
    expect(result.snapshots).toHaveLength(1);
    expect(result.failures).toEqual([expect.objectContaining({ job: 'app', source: 'db', code: 'E_SOURCE_READ' })]);

    const restored = join(d.root, 'restored');
    expect((await runCli(['restore', 'latest', '--to', restored, '-c', d.config], PASS)).code).toBe(0);
    expect((await readdir(restored)).sort()).toEqual(['config', 'data']);
    expect(JSON.parse(await readFile(join(restored, 'config', 'config.json'), 'utf8'))).toEqual({ name: 'app', port: 8080 });
  });

  it('continue: a missing folder is left out the same way', async () => {
    const d = await makeDeployment({ jobs: jobs('continue', MISSING_FOLDER) });
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code).toBe(4);
    expect(backup.stderr).toMatch(/source uploads \(left out of the snapshot\): .*does not exist \[E_SOURCE_MISSING\]/);
    const files = (await runCli(['ls', 'latest', '-c', d.config, '--json'], PASS)).json();
    expect(JSON.stringify(files)).not.toContain('uploads');
  });

  it('fail (the default): the job fails as a whole and makes no snapshot', async () => {
    const d = await makeDeployment({ jobs: jobs(undefined, FAILING_DUMP) });
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/^error: job app: .*exited with code 3/m);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toEqual([]);
  });

  it('continue, with every source failing: nothing to snapshot, the job fails', async () => {
    const d = await makeDeployment({ jobs: `jobs:\n  app:\n    sources: [ ${MISSING_FOLDER} ]\n    targets: [disk]\n    onSourceError: continue` });
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/\[E_SOURCE_MISSING\]/);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toEqual([]);
  });
});
