/**
 * An in-place restore never touches what the source's own `exclude` leaves out: such files are in no snapshot (nor
 * in the safety snapshot), so replacing the folder would lose them for good with --no-keep-previous.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

const jobs = `jobs:
  app:
    sources: [ { type: directory, path: ./app/data, exclude: ["*.tmp", cache, "photos/*.raw"] } ]
    targets: [disk]`;

describe('in-place restore and the source exclude', () => {
  it('leaves excluded files and folders as they are, whole or partial, and does not plan to delete them', async () => {
    const d = await makeDeployment({ jobs });
    await mkdir(join(d.data, 'cache', 'thumbs'), { recursive: true });
    await writeFile(join(d.data, 'cache', 'thumbs', 'a.jpg'), 'cached then');
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);

    // Written after the backup, as an application would: none of it is in any snapshot.
    await writeFile(join(d.data, 'readings.csv'), 'overwritten by mistake');
    await writeFile(join(d.data, 'work.tmp'), 'half-written upload');
    await writeFile(join(d.data, 'cache', 'thumbs', 'a.jpg'), 'cached now');
    await mkdir(join(d.data, 'photos'), { recursive: true });
    await writeFile(join(d.data, 'photos', 'new.raw'), 'raw photo');

    const dry = await runCli(['restore', 'latest', '--dry-run', '--json', '-c', d.config], PASS);
    expect(dry.code, dry.stderr).toBe(0);
    const deleted: string[] = dry.json().sources[0].changes.deleted;
    expect(deleted.filter((p) => /work\.tmp|cache|new\.raw/.test(p))).toEqual([]);

    const restored = await runCli(['restore', 'latest', '--yes', '--no-keep-previous', '-c', d.config], PASS);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).not.toBe('overwritten by mistake');
    expect(await readFile(join(d.data, 'work.tmp'), 'utf8')).toBe('half-written upload');
    expect(await readFile(join(d.data, 'cache', 'thumbs', 'a.jpg'), 'utf8')).toBe('cached now');
    expect(await readFile(join(d.data, 'photos', 'new.raw'), 'utf8')).toBe('raw photo');

    // A partial restore replaces the photos folder alone: its excluded file stays too.
    await writeFile(join(d.data, 'photos', 'new.raw'), 'raw photo, edited');
    const partial = await runCli(['restore', 'latest', '--path', 'photos', '--yes', '--no-keep-previous', '-c', d.config], PASS);
    expect(partial.code, partial.stderr).toBe(0);
    expect(await readFile(join(d.data, 'photos', 'new.raw'), 'utf8')).toBe('raw photo, edited');
  });
});
