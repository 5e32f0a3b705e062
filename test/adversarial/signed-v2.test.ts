/**
 * Signed format 2 (deduplicated) snapshots: the same configuration, errors
 * and `latest` as format 1 (signed.test.ts). The snapshot object is what is
 * signed: its public header, its sealed body (the tree's chunk ids, so every
 * file's chunks) and its sealed reference list.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { backup, flipByte, restore, signingKey } from './signing.js';
import { decode } from '../helpers/decoder.js';
import { JOB } from './forge.js';

const V2 = 'repository: { format: 2 }';

/** The YAML's signing line: a key to sign with, keys to trust (none: no `signing` at all). */
function signingYaml(signer: string | undefined, trusted: string[]): string {
  const parts = [...(signer ? [`keyFile: ${signer}`] : []), ...(trusted.length > 0 ? [`trust: [${trusted.join(', ')}]`] : [])];
  return parts.length > 0 ? `signing: { ${parts.join(', ')} }` : '';
}

/** A v2 deployment that signs with `signer` and trusts `trusted`. */
async function deployment(signer: string | undefined, trusted: string[]) {
  return makeDeployment({ extraYaml: `${V2}\n${signingYaml(signer, trusted)}` });
}

/** A second configuration over the same target and data, signing with another key (or none): a forger's host. */
async function otherWriter(d: { root: string; config: string }, signer: string | undefined, trusted: string[]): Promise<string> {
  const text = (await readFile(d.config, 'utf8')).replace(/^signing: .*$/m, signingYaml(signer, trusted));
  const config = join(d.root, `other-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(config, text);
  return config;
}

describe('signed format 2 snapshots', () => {
  it('a backup is signed; restore, verify --read-data, list and the standalone decoder accept it', async () => {
    const key = await signingKey();
    const d = await deployment(key.file, [key.publicKey]);
    const id = await backup(d.config);
    const stored = await readFile(join(d.target, 'snapshots', JOB, id));
    expect(stored.toString('latin1')).toContain(`"signature":{"alg":"ed25519","publicKey":"${key.publicKey}"}`);
    const r = await restore(d, id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.restored.sort()).toEqual(['config', 'data']);
    const verify = await runCli(['verify', id, '--read-data', '-c', d.config], PASS);
    expect(verify.code, verify.stderr).toBe(0);
    const list = await runCli(['list', '--json', '-c', d.config], PASS);
    expect(list.code, list.stderr).toBe(0);
    expect(list.json()[0].id).toBe(id);
    // The standalone decoder checks the signature too, and with --trust needs that signer.
    const args = ['--target', d.target, '--job', JOB, '--passphrase-env', 'FAILSAFE_PASSPHRASE'];
    const decoded = await decode([...args, '--out', join(d.root, 'o1'), '--trust', key.publicKey], PASS);
    expect(decoded.code, decoded.stderr).toBe(0);
    const other = (await signingKey()).publicKey;
    const refused = await decode([...args, '--out', join(d.root, 'o2'), '--trust', other], PASS);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('which --trust does not name');
  });

  it('an unsigned snapshot is refused with E_UNSIGNED by restore and verify, read with --allow-unsigned', async () => {
    const key = await signingKey();
    const d = await deployment(key.file, [key.publicKey]);
    const id = await backup(await otherWriter(d, undefined, []));
    const refused = await restore(d, id);
    expect(refused.stderr).toContain('E_UNSIGNED');
    expect(refused.code).toBe(3);
    expect(refused.restored).toEqual([]);
    const verify = await runCli(['verify', id, '--json', '-c', d.config], PASS);
    expect(verify.code).toBe(3);
    expect(verify.json().errors).toEqual([expect.objectContaining({ code: 'E_UNSIGNED' })]);
    const allowed = await restore(d, id, ['--allow-unsigned']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.restored.sort()).toEqual(['config', 'data']);
  });

  it('a snapshot signed by a key not trusted is refused with E_UNTRUSTED, accepted with --trust', async () => {
    const [ours, theirs] = [await signingKey(), await signingKey()];
    const d = await deployment(ours.file, [ours.publicKey]);
    const id = await backup(await otherWriter(d, theirs.file, []));
    const refused = await restore(d, id);
    expect(refused.stderr).toContain('E_UNTRUSTED');
    expect(refused.code).toBe(3);
    expect(refused.restored).toEqual([]);
    expect((await restore(d, id, ['--trust', theirs.publicKey])).code).toBe(0);
  });

  it('latest is the newest trusted snapshot: a newer unsigned one is passed over by restore, drill and verify', async () => {
    const key = await signingKey();
    const d = await deployment(key.file, [key.publicKey]);
    const id = await backup(d.config);
    await writeFile(join(d.data, 'planted.txt'), 'forged');
    const forged = await backup(await otherWriter(d, undefined, []));
    const list = await runCli(['list', '--json', '-c', d.config], PASS);
    expect(list.json()[0].id).toBe(forged);
    const r = await restore(d, 'latest');
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(join(r.dest, 'data'))).not.toContain('planted.txt');
    const scratch = await mkdtemp(join(d.root, 'scratch-'));
    const drill = await runCli(['drill', '--json', '--scratch', scratch, '-c', d.config], PASS);
    expect(drill.code, drill.stderr).toBe(0);
    expect(drill.json()).toMatchObject({ jobs: [{ id }] });
    expect((await runCli(['verify', 'latest', '-c', d.config], PASS)).code).toBe(0);
    expect((await runCli(['verify', '--all', '-c', d.config], PASS)).code).toBe(3);
  });

  /** Where in a signed snapshot object a byte is flipped. */
  const flips: [string, (bytes: Buffer) => number][] = [
    ['its public header (the date)', (b) => b.indexOf('"createdAt":"') + 15],
    ['its sealed body', (b) => b.indexOf('"body":"') + 20],
    ['its signature', (b) => b.length - 1],
  ];
  it.each(flips)('a flipped byte in %s fails with exit 3 even with --allow-unsigned', async (_where, at) => {
    const key = await signingKey();
    const d = await deployment(key.file, [key.publicKey]);
    const id = await backup(d.config);
    await flipByte(join(d.target, 'snapshots', JOB, id), at);
    const r = await restore(d, id, ['--allow-unsigned']);
    expect(r.stderr).toMatch(/E_CHECKSUM|E_CORRUPT/);
    expect(r.code).toBe(3);
    expect(r.restored).toEqual([]);
  });
});
