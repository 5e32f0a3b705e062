import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

/** Every file under `dir` (relative paths, sorted): a refused backup must add, change or remove none. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function keygen(dir: string, name: string): Promise<{ identity: string; publicKey: string }> {
  const identity = join(dir, name);
  const result = await runCli(['keygen', '--asymmetric', '--out', identity, '--json']);
  expect(result.code).toBe(0);
  return { identity, publicKey: result.json().publicKey };
}

describe('a backup whose keys open none of the target’s snapshots', () => {
  it('stops with E_WRONG_KEY before writing; keys rotate starts the new key set', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const before = await files(d.root);

    const typo = { FAILSAFE_PASSPHRASE: 'correct horse battery stapel' };
    const refused = await runCli(['backup', '-c', d.config], typo);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /^error: job app: none of the key slots of .* opens with the configured passphrase: nothing was written.*keys rotate.* \[E_WRONG_KEY\]\n$/,
    );
    expect(await files(d.root)).toEqual(before);

    // The documented way to change the passphrase: re-wrap the existing snapshots, then back up.
    const rotate = await runCli(['keys', 'rotate', '--old-passphrase-env', 'OLD', '-c', d.config], { ...typo, OLD: PASS.FAILSAFE_PASSPHRASE });
    expect(rotate.code).toBe(0);
    expect((await runCli(['backup', '-c', d.config], typo)).code).toBe(0);
    expect((await runCli(['verify', '--read-data', '-c', d.config], typo)).code).toBe(0);
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(3);
  });

  it('a changed key file is refused, a new job in the same target is not', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
    const keyFile = join(d.root, 'failsafe.key');
    expect((await runCli(['keygen', '--out', keyFile])).code).toBe(0);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const old = await readFile(keyFile);
    await writeFile(keyFile, Buffer.alloc(32, 7));
    const refused = await runCli(['backup', '-c', d.config, '--json']);
    expect(refused.code).toBe(3);
    expect(refused.json().failures[0].code).toBe('E_WRONG_KEY');
    await writeFile(keyFile, old);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
  });

  it('a host with public keys only is checked by its recipients’ key ids', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: [RECIPIENTS] }' });
    const alice = await keygen(d.root, 'alice.identity');
    const bob = await keygen(d.root, 'bob.identity');
    const template = await readFile(d.config, 'utf8');
    const recipients = async (...keys: string[]): Promise<void> => writeFile(d.config, template.replace('RECIPIENTS', keys.map((k) => `"${k}"`).join(', ')));

    await recipients(alice.publicKey);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    // Cannot open a slot, but alice is among the accepted recipients: not blocked.
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    await recipients(bob.publicKey, alice.publicKey);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);

    const before = await files(d.target);
    await recipients(bob.publicKey);
    const bobOnly = await runCli(['backup', '-c', d.config]);
    expect(bobOnly.code).toBe(0);
    expect(await files(d.target)).not.toEqual(before);

    const mallory = await keygen(d.root, 'mallory.identity');
    await recipients(mallory.publicKey);
    const refused = await runCli(['backup', '-c', d.config]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/recipients.*\[E_WRONG_KEY\]/);
  });
});
