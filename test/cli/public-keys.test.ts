import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';

async function keygen(dir: string, name: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): Promise<{ identity: string; publicKey: string }> {
  const out = join(dir, name);
  const result = await runCli(['keygen', '--asymmetric', '--out', out, '--json', ...extra], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return { identity: out, publicKey: result.json().publicKey };
}

async function manifestPath(target: string): Promise<string> {
  const [id] = await readdir(join(target, 'manifests', 'app'));
  return join(target, 'manifests', 'app', id!);
}

describe('encryption with recipients (public keys only on the backup host)', () => {
  it('backs up and lists without any private key; only a recipient identity restores', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: [] }' });
    const alice = await keygen(d.root, 'alice.identity');
    const bob = await keygen(d.root, 'bob.identity');
    const mallory = await keygen(d.root, 'mallory.identity');
    expect((await stat(alice.identity)).mode & 0o777).toBe(0o600);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('recipients: []', `recipients: ["${alice.publicKey}", "${bob.publicKey}"]`));

    const backup = await runCli(['backup', '-c', d.config, '--json']);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const list = await runCli(['list', '-c', d.config, '--json']);
    expect(list.code).toBe(0);
    expect(list.json()).toEqual(backup.json().snapshots);

    const to = join(d.root, 'restored');
    const keyless = await runCli(['restore', 'latest', '--to', to, '-c', d.config]);
    expect(keyless.code).toBe(3);
    expect(keyless.stderr).toMatch(/opens with an identity \(--identity FILE\).*\[E_WRONG_KEY\]/);

    const wrong = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--identity', mallory.identity]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/wrong key or corrupted data \(tried the identity\) \[E_WRONG_KEY\]/);
    await expect(stat(to)).rejects.toThrow();

    const ok = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--identity', bob.identity]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toBe(await readFile(d.appConfig, 'utf8'));

    const verify = await runCli(['verify', '--read-data', '-c', d.config, '--json'], { FAILSAFE_IDENTITY: alice.identity });
    expect(verify.code).toBe(0);
    expect(verify.json().ok).toBe(true);
  });

  it('a passphrase-protected identity needs its passphrase; passphrase and recipients combine', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { passphrase: "${FAILSAFE_PASSPHRASE}", recipients: [] }' });
    const carol = await keygen(d.root, 'carol.identity', { ID_PASS: 'identity secret' }, ['--passphrase-env', 'ID_PASS']);
    expect(await readFile(carol.identity, 'utf8')).toMatch(/wrappedSecretKey/);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('recipients: []', `recipients: ["${carol.publicKey}"]`));
    expect((await runCli(['backup', '-c', d.config], { FAILSAFE_PASSPHRASE: 'pw' })).code).toBe(0);

    const noPass = await runCli(['verify', '-c', d.config, '--identity', carol.identity]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/protected by a passphrase.*\[E_KEY_MISSING\]/);
    const badPass = await runCli(['verify', '-c', d.config, '--identity', carol.identity], { FAILSAFE_IDENTITY_PASSPHRASE: 'nope' });
    expect(badPass.stderr).toMatch(/wrong passphrase for identity/);
    const byIdentity = await runCli(['verify', '--read-data', '-c', d.config, '--identity', carol.identity, '--identity-passphrase-env', 'ID_PASS'], {
      ID_PASS: 'identity secret',
    });
    expect(byIdentity.stderr).toBe('');
    expect(byIdentity.code).toBe(0);
    const byPassphrase = await runCli(['verify', '--read-data', '-c', d.config], { FAILSAFE_PASSPHRASE: 'pw' });
    expect(byPassphrase.code).toBe(0);
    // A backup never reads the identity: one named in the environment without its passphrase does not stop it.
    const backup = await runCli(['backup', '-c', d.config], { FAILSAFE_PASSPHRASE: 'pw', FAILSAFE_IDENTITY: carol.identity });
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
  });

  it('a tampered public header still lists (it cannot be checked without a key) but fails authentication with one', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: [] }' });
    const alice = await keygen(d.root, 'alice.identity');
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('recipients: []', `recipients: ["${alice.publicKey}"]`));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const path = await manifestPath(d.target);
    const bytes = await readFile(path);
    const text = bytes.toString('latin1');
    const files = /"files":(\d)/.exec(text)!;
    const forged = text.replace(files[0], `"files":${(Number(files[1]) + 1) % 10}`);
    await writeFile(path, Buffer.from(forged, 'latin1'));

    const list = await runCli(['list', '-c', d.config, '--json']);
    expect(list.json()[0].files).toBe((Number(files[1]) + 1) % 10);
    const verify = await runCli(['verify', '-c', d.config, '--identity', alice.identity, '--json']);
    expect(verify.code).toBe(3);
    expect(verify.json().errors[0]).toMatchObject({ code: 'E_WRONG_KEY' });
    expect(verify.json().errors[0].message).toMatch(/failed authentication/);
  });

  it('lists and prunes with public keys only; the public index names no file', async () => {
    const d = await makeDeployment({
      encryption: 'encryption: { recipients: [RECIPIENT] }',
      jobs: `jobs:
  app:
    sources: [ { type: directory, path: ./app/data } ]
    targets: [disk]
    retention: { keepLast: 1 }`,
    });
    const alice = await keygen(d.root, 'alice.identity');
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('RECIPIENT', alice.publicKey));
    for (let i = 0; i < 3; i++) expect((await runCli(['backup', '-c', d.config])).code).toBe(0);

    const listed = (await runCli(['list', '-c', d.config, '--json'])).json<{ id: string }[]>();
    expect(listed).toHaveLength(3);
    const objects = async (): Promise<string[]> =>
      (await readdir(d.target, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    for (const file of await objects()) {
      const bytes = (await readFile(file)).toString('latin1');
      for (const name of ['README.txt', 'readings.csv', 'photo-1', 'latest.csv', 'photos/2026']) expect(bytes).not.toContain(name);
    }
    const manifest = await readFile(await manifestPath(d.target));
    const header = JSON.parse(manifest.subarray(12, 12 + manifest.readUInt32BE(8)).toString());
    expect(Object.keys(header).sort()).toEqual(['createdAt', 'durationMs', 'encryption', 'format', 'id', 'job', 'stats', 'tool']);
    expect(Object.keys(header.stats).sort()).toEqual(['bytes', 'files', 'segments', 'storedBytes']);

    const prune = await runCli(['prune', '-c', d.config, '--json']);
    expect(prune.stderr).toBe('');
    expect(prune.code).toBe(0);
    expect(prune.json().snapshots.map((s: { action: string }) => s.action)).toEqual(['keep', 'remove', 'remove']);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toEqual([listed[0]]);
    expect((await readdir(join(d.target, 'data', 'app'))).sort()).toEqual([listed[0]!.id]);
    const verify = await runCli(['verify', '--all', '--read-data', '-c', d.config, '--identity', alice.identity, '--json']);
    expect(verify.json().ok).toBe(true);
  });

  it('a mistyped public key in the YAML is refused with its line', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: ["failsafe-pk1-AAAA"] }' });
    const result = await runCli(['config', 'validate', '-c', d.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/failsafe\.yaml:\d+:\d+: encryption\.recipients\[0\]: public key .* truncated or mangled/);
  });
});
