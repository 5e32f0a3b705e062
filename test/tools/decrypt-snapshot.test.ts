/**
 * The standalone decoder (tools/decrypt-snapshot.mjs, libsodium and Node only)
 * must unpack what the CLI backs up, byte for byte: the format is readable
 * without Failsafe.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { decode } from '../helpers/decoder.js';
import { tree } from '../helpers/tree.js';
import { decodeManifest, encodeManifest } from '../../core/format/manifest.js';

describe('standalone decoder', () => {
  it('unpacks a multi-segment snapshot exactly, with an identity, the passphrase or the key file', async () => {
    const d = await makeDeployment({
      encryption: 'encryption: { passphrase: "${FAILSAFE_PASSPHRASE}", keyFile: ./failsafe.key, recipients: [RECIPIENT] }',
      extraYaml: 'segmentSize: 1MiB',
    });
    const identity = join(d.root, 'ops.identity');
    const keygen = await runCli(['keygen', '--asymmetric', '--out', identity, '--passphrase-env', 'ID_PASS', '--json'], { ID_PASS: 'id pass' });
    expect((await runCli(['keygen', '--out', join(d.root, 'failsafe.key')])).code).toBe(0);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('RECIPIENT', keygen.json().publicKey));
    // A file spanning segments and a name too long for a plain ustar header.
    await writeFile(join(d.data, 'big.bin'), randomBytes(3 * 1024 * 1024 + 123));
    const deep = join(d.data, 'a'.repeat(60), 'b'.repeat(60));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${'c'.repeat(120)}.txt`), 'long name');
    const backup = await runCli(['backup', '-c', d.config, '--json'], { FAILSAFE_PASSPHRASE: 'pw' });
    expect(backup.code).toBe(0);

    const ways: [string, string[], NodeJS.ProcessEnv][] = [
      ['identity', ['--identity', identity], { FAILSAFE_IDENTITY_PASSPHRASE: 'id pass' }],
      ['passphrase', ['--passphrase-env', 'PASS'], { PASS: 'pw' }],
      ['key file', ['--key-file', join(d.root, 'failsafe.key')], {}],
    ];
    for (const [, secret, env] of ways) {
      const out = join(d.root, `out-${secret[0]}`);
      const result = await decode(['--target', d.target, '--job', 'app', '--out', out, ...secret], env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/unpacked snapshot .* of app/);
      expect(await tree(join(out, 'data'))).toEqual(await tree(d.data));
      expect(await readFile(join(out, 'config', 'config.json'))).toEqual(await readFile(d.appConfig));
    }
    const manifest = await readFile(join(d.target, 'manifests', 'app', backup.json().snapshots[0].id));
    expect(JSON.parse(manifest.subarray(12, 12 + manifest.readUInt32BE(8)).toString()).stats.segments).toBeGreaterThan(2);
  });

  // Unencrypted, so the segment shows its compression: zstd's and gzip's magic numbers, brotli has none.
  it.each([
    ['zstd', (s: Buffer) => s.subarray(0, 4).toString('hex') === '28b52ffd'],
    ['gzip', (s: Buffer) => s.subarray(0, 2).toString('hex') === '1f8b'],
    ['brotli', (s: Buffer) => !s.includes('GET /index') && !['28b5', '1f8b'].includes(s.subarray(0, 2).toString('hex'))],
    ['none', (s: Buffer) => s.includes('GET /index.html 200\nGET')],
  ] as const)('reads %s segments', async (algorithm, looksRight) => {
    const d = await makeDeployment({ encryption: 'encryption: none', compression: `compression: { algorithm: ${algorithm} }` });
    await writeFile(join(d.data, 'log.txt'), 'GET /index.html 200\n'.repeat(100_000));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const [id] = await readdir(join(d.target, 'data', 'app'));
    expect(looksRight(await readFile(join(d.target, 'data', 'app', id!, '00000000')))).toBe(true);
    const out = join(d.root, 'out');
    const result = await decode(['--target', d.target, '--job', 'app', '--out', out]);
    expect(result.stderr).toBe('');
    expect(await tree(join(out, 'data'))).toEqual(await tree(d.data));
  });

  it('refuses a wrong identity and a tampered segment', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: [RECIPIENT] }' });
    const mine = await runCli(['keygen', '--asymmetric', '--out', join(d.root, 'mine'), '--json']);
    expect((await runCli(['keygen', '--asymmetric', '--out', join(d.root, 'other')])).code).toBe(0);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('RECIPIENT', mine.json().publicKey));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const base = ['--target', d.target, '--job', 'app'];
    const wrong = await decode([...base, '--out', join(d.root, 'o1'), '--identity', join(d.root, 'other')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/no key slot opens with the given secret \(slots: recipient\)/);

    const [id] = await readdir(join(d.target, 'data', 'app'));
    const segment = join(d.target, 'data', 'app', id!, '00000000');
    const bytes = await readFile(segment);
    bytes[bytes.length - 5]! ^= 1;
    await writeFile(segment, bytes);
    const tampered = await decode([...base, '--out', join(d.root, 'o2'), '--identity', join(d.root, 'mine')]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/segment 0: stored checksum mismatch/);
  });

  it("checks every file against the manifest's SHA-256, the segments' plaintext having none", async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const [id] = await readdir(join(d.target, 'manifests', 'app'));
    const path = join(d.target, 'manifests', 'app', id!);
    const { header, manifest } = await decodeManifest(await readFile(path), 'm', () => Promise.reject(new Error('not encrypted')));
    expect(manifest.segments.every((s) => s.plainSha256 === undefined)).toBe(true);
    const base = ['--target', d.target, '--job', 'app'];
    expect((await decode([...base, '--out', join(d.root, 'o1')])).code).toBe(0);
    // A manifest that says otherwise of one file (consistent in itself: its own checksum is recomputed).
    const file = manifest.entries.find((e) => e.type === 'file' && e.size > 0)!;
    file.sha256 = '0'.repeat(64);
    await writeFile(path, await encodeManifest(manifest, header.stats, { cipher: 'none' }));
    const wrong = await decode([...base, '--out', join(d.root, 'o2')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`${file.source}/${file.path}: checksum mismatch`);
  });
});

describe('standalone decoder, signed manifests', () => {
  it('checks the signature; with --trust it needs that signer', async () => {
    const keys = await mkdtemp(join(tmpdir(), 'failsafe-signing-'));
    const made = await runCli(['keygen', '--signing', '--out', join(keys, 'k'), '--json']);
    const publicKey = made.json().publicKey as string;
    const d = await makeDeployment({ encryption: 'encryption: none', extraYaml: `signing: { keyFile: ${join(keys, 'k')} }` });
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const base = ['--target', d.target, '--job', 'app'];
    const trusted = await decode([...base, '--out', join(d.root, 'o1'), '--trust', publicKey]);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(await tree(join(d.root, 'o1', 'data'))).toEqual(await tree(d.data));
    const other = publicKey.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const refused = await decode([...base, '--out', join(d.root, 'o2'), '--trust', other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('which --trust does not name');
    const [id] = await readdir(join(d.target, 'manifests', 'app'));
    const path = join(d.target, 'manifests', 'app', id!);
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await writeFile(path, bytes);
    const flipped = await decode([...base, '--out', join(d.root, 'o3')]);
    expect(flipped.code).toBe(1);
    expect(flipped.stderr).toContain('signature does not verify');
  });
});
