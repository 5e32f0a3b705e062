/**
 * The live data ends fully old or fully new: a post-swap check that fails
 * rolls every source back, and a restore killed with SIGKILL in the middle of
 * its swap is rolled back (or, once committed, finished) by the next run.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../api/builtins.js';
import { FailsafeError } from '../../core/errors.js';
import { fsPath } from '../../core/fs/name-bytes.js';
import { Failsafe } from '../../api/failsafe.js';
import { defineSource } from '../../core/sdk/registry.js';
import { DirectorySource, directoryOptions } from '../../plugins/directory/directory.js';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';
import { killAt } from '../helpers/pause.js';
import { treeHash } from '../helpers/tree.js';

/** A directory source whose data passes in staging but fails its check once live (say, the app rejects it). */
class RejectedWhenLive extends DirectorySource {
  override async checkLive(): Promise<void> {
    await super.checkLive();
    throw new FailsafeError('E_CHECK_FAILED', `source "${this.name}": the application rejects the restored data`);
  }
}

async function prepared(jobs?: string): Promise<{ d: Deployment; live: () => Promise<string> }> {
  const d = await makeDeployment(jobs ? { jobs } : {});
  expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
  await writeFile(join(d.data, 'readings.csv'), 'changed after the backup');
  await writeFile(d.appConfig, '{"name":"app","port":9090}');
  const live = async (): Promise<string> => `${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8')}`;
  return { d, live };
}

/** No staging folder, no `.pre-restore-` copy and no journal is left behind. */
async function leftovers(d: Deployment): Promise<string[]> {
  const app = (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe') || n.includes('.pre-restore-'));
  const journals = await readdir(join(d.root, '.failsafe', 'restore-journal')).catch(() => [] as string[]);
  return [...app, ...journals];
}

describe('post-swap check', () => {
  it('rolls back both sources when the second fails its live check', async () => {
    const d = await makeDeployment({
      jobs: `jobs:
  app:
    sources:
      - { type: config-file, path: ./app/config.json, name: config }
      - { type: picky-directory, path: ./app/data, name: data }
    targets: [disk]`,
    });
    const registry = builtinRegistry().register(
      defineSource({ type: 'picky-directory', optionsSchema: directoryOptions, defaultName: () => 'data', create: (o, name) => new RejectedWhenLive(o, name) }),
      'test',
    );
    const failsafe = await Failsafe.open(d.config, { env: PASS, registry });
    try {
      expect((await failsafe.backup()).failures).toEqual([]);
      await writeFile(join(d.data, 'readings.csv'), 'changed after the backup');
      await writeFile(d.appConfig, '{"name":"app","port":9090}');
      const before = `${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8')}`;
      const err = await failsafe.restore('latest', { safetySnapshot: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailsafeError);
      expect((err as FailsafeError).code).toBe('E_CHECK_FAILED');
      expect(`${await treeHash(d.data)} ${await readFile(d.appConfig, 'utf8')}`).toBe(before);
      expect(await leftovers(d)).toEqual([]);
    } finally {
      await failsafe.close();
    }
  });
});

describe('kill -9 in the middle of a restore', () => {
  it('after the first of two swaps the live data is mixed; the next restore rolls it back, then restores', async () => {
    const { d, live } = await prepared();
    const old = await live();
    await killAt('swap:1', ['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config]);
    // The killed process left one source swapped: exactly the state the journal exists for.
    expect(await live()).not.toBe(old);
    expect(await readFile(d.appConfig, 'utf8')).toBe('{"name":"app","port":9090}');

    const failsafe = await Failsafe.open(d.config, { env: PASS });
    try {
      const recovered = await failsafe.recoverRestores();
      expect(recovered).toHaveLength(1);
      expect(recovered[0]!.outcome).toBe('rolled-back');
    } finally {
      await failsafe.close();
    }
    expect(await live()).toBe(old);
    expect(await leftovers(d)).toEqual([]);

    await killAt('swap:2', ['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config]);
    const next = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '--no-keep-previous', '-c', d.config], PASS);
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/warning: an interrupted restore of app\/\S+ .* was rolled back/);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).not.toBe('changed after the backup');
    expect(JSON.parse(await readFile(d.appConfig, 'utf8'))).toEqual({ name: 'app', port: 8080 });
    expect(await leftovers(d)).toEqual([]);
  });

  it('a partial restore of a folder named in bytes that are not UTF-8, killed mid-swap, is rolled back to the same bytes', async () => {
    const d = await makeDeployment();
    const file = fsPath(join(d.data, 'd\udcff', 'f\udcfe'));
    await mkdir(fsPath(join(d.data, 'd\udcff')));
    await writeFile(file, 'backed up');
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    await writeFile(file, 'changed after the backup');
    const names = async (): Promise<string[]> => (await readdir(d.data, { encoding: 'buffer' })).map((n) => n.toString('hex')).sort();
    const before = await names();
    await killAt('swap:1', ['restore', 'latest', '--yes', '--no-safety-snapshot', '--source', 'data', '--path', 'd\\xff', '-c', d.config]);
    expect(await readFile(file, 'utf8')).toBe('backed up'); // swapped in when the process died
    const failsafe = await Failsafe.open(d.config, { env: PASS });
    try {
      expect((await failsafe.recoverRestores()).map((r) => r.outcome)).toEqual(['rolled-back']);
    } finally {
      await failsafe.close();
    }
    expect(await names()).toEqual(before);
    expect(await readFile(file, 'utf8')).toBe('changed after the backup');
    expect(await leftovers(d)).toEqual([]);
  });

  it('once committed, the next run finishes the restore instead', async () => {
    const { d, live } = await prepared();
    const old = await live();
    await killAt('journal:committed', ['restore', 'latest', '--yes', '--no-safety-snapshot', '--no-keep-previous', '-c', d.config]);
    const r = await runCli(['restore', 'latest', '--dry-run', '-c', d.config], PASS);
    expect(r.code).toBe(0);
    const failsafe = await Failsafe.open(d.config, { env: PASS });
    try {
      expect((await failsafe.recoverRestores()).map((x) => x.outcome)).toEqual(['completed']);
    } finally {
      await failsafe.close();
    }
    expect(await live()).not.toBe(old);
    expect(JSON.parse(await readFile(d.appConfig, 'utf8'))).toEqual({ name: 'app', port: 8080 });
    expect(await leftovers(d)).toEqual([]); // the replaced copies were removed, as --no-keep-previous asked
  });
});

describe('a damaged journal', () => {
  it('stops the next restore with E_RESTORE naming the journal, before anything changes', async () => {
    const { d, live } = await prepared();
    const old = await live();
    const dir = join(d.root, '.failsafe', 'restore-journal');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'restore-20260101T000000Z-999999999.json'), '{"version":1,"state":"swa');
    const r = await runCli(['restore', 'latest', '--yes', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the journal of an interrupted restore, .*restore-20260101T000000Z-999999999\.json, is unreadable.*\[E_RESTORE\]\n$/);
    expect(await live()).toBe(old);
  });
});
