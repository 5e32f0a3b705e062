import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { hashes, JOBS } from '../helpers/keys.js';

async function identity(dir: string, name: string): Promise<{ file: string; publicKey: string }> {
  const file = join(dir, name);
  const result = await runCli(['keygen', '--asymmetric', '--out', file, '--json']);
  expect(result.code).toBe(0);
  return { file, publicKey: result.json().publicKey };
}

describe('failsafe keys rotate', () => {
  it('re-wraps only the selected snapshots for the new key set; data objects keep their bytes', async () => {
    const d = await makeDeployment({ encryption: 'encryption: ENCRYPTION', jobs: JOBS });
    const alice = await identity(d.root, 'alice.identity');
    const bob = await identity(d.root, 'bob.identity');
    const template = await readFile(d.config, 'utf8');
    const withEncryption = (value: string): string => template.replace('encryption: ENCRYPTION', `encryption: ${value}`);
    const passphraseOnly = join(d.root, 'passphrase.yaml');
    await writeFile(passphraseOnly, withEncryption('{ passphrase: "${FAILSAFE_PASSPHRASE}" }'));
    await writeFile(d.config, withEncryption(`{ passphrase: "\${FAILSAFE_PASSPHRASE}", recipients: ["${alice.publicKey}"] }`));
    const env = { FAILSAFE_PASSPHRASE: 'old passphrase' };
    expect((await runCli(['backup', '-c', d.config], env)).code).toBe(0);

    const before = await hashes(d.target);
    const data = (all: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith('data/')));
    const manifestOf = (all: Record<string, string>, job: string): string => Object.entries(all).find(([k]) => k.startsWith(`manifests/${job}/`))![1];
    expect(Object.keys(data(before)).length).toBeGreaterThan(1);

    // New key set: only bob. Alice's identity opens the old snapshots for the rotation.
    await writeFile(d.config, withEncryption(`{ recipients: ["${bob.publicKey}"] }`));
    const dry = await runCli(['keys', 'rotate', '--job', 'app', '--dry-run', '--identity', alice.file, '-c', d.config, '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json().rotated).toHaveLength(1);
    expect(await hashes(d.target)).toEqual(before);

    const rotate = await runCli(['keys', 'rotate', '--job', 'app', '--identity', alice.file, '-c', d.config]);
    expect(rotate.stderr).toBe('');
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toMatch(/re-wrapped app\/\S+ in disk\n1 snapshot re-wrapped, 0 failed/);

    const after = await hashes(d.target);
    expect(data(after)).toEqual(data(before));
    expect(manifestOf(after, 'app')).not.toBe(manifestOf(before, 'app'));
    expect(manifestOf(after, 'cfg')).toBe(manifestOf(before, 'cfg'));

    // app: only bob now; alice and the old passphrase stopped working.
    const verify = (args: string[], e: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> => runCli(['verify', '--read-data', '--json', ...args], e);
    expect((await verify(['--job', 'app', '-c', d.config, '--identity', bob.file])).json().ok).toBe(true);
    const byAlice = await verify(['--job', 'app', '-c', d.config, '--identity', alice.file]);
    expect(byAlice.code).toBe(3);
    expect(byAlice.json().errors[0].code).toBe('E_WRONG_KEY');
    const byPassphrase = await verify(['--job', 'app', '-c', passphraseOnly], env);
    expect(byPassphrase.json().errors[0]).toMatchObject({ code: 'E_WRONG_KEY' });
    // cfg was not selected: alice and the passphrase still open it, bob does not.
    expect((await verify(['--job', 'cfg', '-c', d.config, '--identity', alice.file])).json().ok).toBe(true);
    expect((await verify(['--job', 'cfg', '-c', passphraseOnly], env)).json().ok).toBe(true);
    expect((await verify(['--job', 'cfg', '-c', d.config, '--identity', bob.file])).code).toBe(3);

    const to = join(d.root, 'restored');
    expect((await runCli(['restore', 'latest', '--job', 'app', '--to', to, '-c', d.config, '--identity', bob.file])).code).toBe(0);
    expect(await hashes(join(to, 'data'))).toEqual(await hashes(d.data));

    // Nothing we hold opens cfg any more except the old passphrase: without it the rotation fails and writes nothing.
    const stuck = await runCli(['keys', 'rotate', '--job', 'cfg', '--identity', bob.file, '-c', d.config]);
    expect(stuck.code).toBe(3);
    expect(stuck.stdout).toMatch(/FAILED cfg\/.*\[E_WRONG_KEY\]/);
    expect(await hashes(d.target)).toEqual(after);
    const unstuck = await runCli(['keys', 'rotate', '--job', 'cfg', '--old-passphrase-env', 'OLD', '-c', d.config], { OLD: 'old passphrase' });
    expect(unstuck.code).toBe(0);
    expect((await verify(['--job', 'cfg', '-c', d.config, '--identity', bob.file])).json().ok).toBe(true);
    expect(data(await hashes(d.target))).toEqual(data(before));
  });
});
