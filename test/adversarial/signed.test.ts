/**
 * Signed snapshots: a deployment that trusts signing keys reads only what one
 * of them signed. An unsigned snapshot (forged, or written before signing) is
 * refused with E_UNSIGNED, one signed by another key with E_UNTRUSTED, both
 * exit 3 and nothing restored, unless --allow-unsigned; a signed manifest
 * altered after signing fails its signature whatever the flags.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { backup, flipByte, restore, signingKey } from './signing.js';
import { forgeSnapshot, ID, JOB } from './forge.js';

/** A deployment that signs with `signer` and trusts `trusted`; `encryption` as makeDeployment takes it. */
async function signedDeployment(signer: string | undefined, trusted: string[], encryption = 'encryption: none') {
  const lines = [...(signer ? [`keyFile: ${signer}`] : []), `trust: [${trusted.join(', ')}]`];
  return makeDeployment({ encryption, extraYaml: `signing: { ${lines.join(', ')} }` });
}

describe('signed snapshots', () => {
  for (const encryption of ['encryption: none', 'encryption: { passphrase: "${FAILSAFE_PASSPHRASE}" }']) {
    it(`${encryption}: a backup is signed; restore and verify --read-data accept it`, async () => {
      const key = await signingKey();
      const d = await signedDeployment(key.file, [key.publicKey], encryption);
      const id = await backup(d.config);
      const stored = await readFile(join(d.target, 'manifests', JOB, id));
      expect(stored.toString('latin1')).toContain(`"signature":{"alg":"ed25519","publicKey":"${key.publicKey}"}`);
      const r = await restore(d, id);
      expect(r.code, r.stderr).toBe(0);
      expect(r.restored.sort()).toEqual(['config', 'data']);
      expect((await runCli(['verify', id, '--read-data', '-c', d.config], PASS)).code).toBe(0);
    });
  }

  it('an unsigned snapshot (forged, or older than signing) is refused with E_UNSIGNED, read with --allow-unsigned', async () => {
    const key = await signingKey();
    const d = await signedDeployment(key.file, [key.publicKey]);
    await forgeSnapshot(d.target, { entries: [{ path: 'file.txt', body: Buffer.from('forged') }] });
    const refused = await restore(d, ID);
    expect(refused.stderr).toContain('E_UNSIGNED');
    expect(refused.code).toBe(3);
    expect(refused.restored).toEqual([]);
    const verify = await runCli(['verify', ID, '--json', '-c', d.config]);
    expect(verify.code).toBe(3);
    expect(verify.json().errors).toEqual([expect.objectContaining({ code: 'E_UNSIGNED' })]);
    const allowed = await restore(d, ID, ['--allow-unsigned']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await readFile(join(allowed.dest, 'data', 'file.txt'), 'utf8')).toBe('forged');
  });

  it('a snapshot signed by a key not trusted is refused with E_UNTRUSTED, accepted with --trust', async () => {
    const [ours, theirs] = [await signingKey(), await signingKey()];
    const d = await signedDeployment(theirs.file, [ours.publicKey]);
    const id = await backup(d.config);
    const refused = await restore(d, id);
    expect(refused.stderr).toContain('E_UNTRUSTED');
    expect(refused.code).toBe(3);
    expect(refused.restored).toEqual([]);
    expect((await restore(d, id, ['--trust', theirs.publicKey])).code).toBe(0);
  });

  it('latest is the newest snapshot a trusted key signed: a newer forged one is passed over by restore, drill and verify', async () => {
    const key = await signingKey();
    const d = await signedDeployment(key.file, [key.publicKey]);
    const id = await backup(d.config);
    // Newer than the real backup, dated now: without signatures it would be latest.
    const forgedId = `${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '')}-f0f0f0`;
    const now = (json: Record<string, unknown>): void => void (json.createdAt = new Date(Date.now() + 60_000).toISOString());
    await forgeSnapshot(d.target, { id: forgedId, entries: [{ path: 'file.txt', body: Buffer.from('forged') }], body: now, header: now });
    const list = await runCli(['list', '--json', '-c', d.config]);
    expect(list.json()[0].id).toBe(forgedId);
    const r = await restore(d, 'latest');
    expect(r.code, r.stderr).toBe(0);
    expect(r.restored.sort()).toEqual(['config', 'data']);
    expect(await readdir(join(r.dest, 'data'))).not.toContain('file.txt');
    const scratch = await mkdtemp(join(d.root, 'scratch-'));
    const drill = await runCli(['drill', '--json', '--scratch', scratch, '-c', d.config]);
    expect(drill.code, drill.stderr).toBe(0);
    expect(drill.json()).toMatchObject({ jobs: [{ id }] });
    // The forged one would fail with E_UNSIGNED: exit 0 says verify took the signed one.
    expect((await runCli(['verify', 'latest', '-c', d.config])).code).toBe(0);
    expect(await runCli(['verify', '--all', '-c', d.config]).then((v) => v.code)).toBe(3);
  });

  it('without trust configured nothing changes: unsigned snapshots restore as before', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await forgeSnapshot(d.target, { entries: [{ path: 'file.txt' }] });
    expect((await restore(d, ID)).code).toBe(0);
  });

  /** Where in a signed manifest a byte is flipped: the header, the body, the signature. */
  const flips: [string, (bytes: Buffer) => number][] = [
    ['its header (the date)', (b) => b.indexOf('"createdAt":"') + 15],
    ['its body', (b) => b.length - 100],
    ['its signature', (b) => b.length - 1],
  ];
  it.each(flips)('a flipped byte in %s fails the signature (E_CHECKSUM, exit 3) even with --allow-unsigned', async (_where, at) => {
    const key = await signingKey();
    const d = await signedDeployment(key.file, [key.publicKey]);
    const id = await backup(d.config);
    await flipByte(join(d.target, 'manifests', JOB, id), at);
    const r = await restore(d, id, ['--allow-unsigned']);
    expect(r.stderr).toMatch(/E_CHECKSUM|E_CORRUPT/);
    expect(r.code).toBe(3);
    expect(r.restored).toEqual([]);
  });

  it('keys rotate keeps a signed snapshot signed, and it still restores', async () => {
    const key = await signingKey();
    const d = await signedDeployment(key.file, [key.publicKey], 'encryption: { passphrase: "${FAILSAFE_PASSPHRASE}" }');
    const id = await backup(d.config);
    const before = await readFile(join(d.target, 'manifests', JOB, id));
    const rotate = await runCli(['keys', 'rotate', '-c', d.config], PASS);
    expect(rotate.code, rotate.stderr).toBe(0);
    const after = await readFile(join(d.target, 'manifests', JOB, id));
    expect(after.equals(before)).toBe(false);
    expect(after.toString('latin1')).toContain(key.publicKey);
    expect((await restore(d, id)).code).toBe(0);
  });
});
