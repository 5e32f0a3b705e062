/**
 * A deployment whose YAML sits inside the folder it backs up (`path: .`, written by hand, without init's
 * `exclude: [.failsafe]`): the deployment's own state folder is never part of a snapshot, and an in-place
 * restore leaves it as it is, journal and files cache included.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { hashes } from '../helpers/keys.js';

describe("the deployment's state folder inside a source", () => {
  it('is left out of every snapshot and kept as it is by an in-place restore', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'failsafe-target-'));
    const d = await makeDeployment({
      targets: `targets:\n  disk: { type: local, path: ${JSON.stringify(join(elsewhere, 'target'))} }`,
      extraYaml: 'repository: { format: 2 }',
      jobs: 'jobs:\n  home:\n    sources: [ { type: directory, name: home, path: . } ]\n    targets: [disk]',
    });
    const first = await runCli(['backup', '-c', d.config], PASS);
    expect(first.code, first.stderr).toBe(0);
    // The first backup wrote the files cache; the second would store it if the folder were part of the source.
    expect(await readdir(join(d.root, '.failsafe'))).toContain('files-cache');
    const second = await runCli(['backup', '-c', d.config], PASS);
    expect(second.code, second.stderr).toBe(0);

    const scratch = join(d.root, '..', `${join(d.root).split('/').pop()}-scratch`);
    const copy = await runCli(['restore', 'latest', '--to', scratch, '-c', d.config], PASS);
    expect(copy.code, copy.stderr).toBe(0);
    const restored = await readdir(join(scratch, 'home'));
    expect(restored).toEqual(expect.arrayContaining(['app', 'failsafe.yaml']));
    expect(restored).not.toContain('.failsafe');

    const state = await hashes(join(d.root, '.failsafe'));
    await writeFile(join(d.data, 'README.txt'), 'changed\n');
    const inPlace = await runCli(['restore', 'latest', '--yes', '-c', d.config], PASS);
    expect(inPlace.code, inPlace.stderr).toBe(0);
    expect(await readFile(join(d.data, 'README.txt'), 'utf8')).not.toBe('changed\n');
    // The files cache as the last backup left it (the in-place restore's safety snapshot may have updated it), no journal left.
    const after = await hashes(join(d.root, '.failsafe'));
    expect(Object.keys(after).filter((k) => k.startsWith('restore-journal/'))).toEqual([]);
    expect(Object.keys(after).filter((k) => k.startsWith('files-cache/')).length).toBeGreaterThan(0);
    expect(Object.keys(state).filter((k) => k.startsWith('files-cache/'))).toEqual(Object.keys(after).filter((k) => k.startsWith('files-cache/')));
  });
});
