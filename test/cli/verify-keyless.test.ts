import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';

describe('verify on a host with public keys only', () => {
  it('checks the stored objects against the public header, without the private key', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { recipients: [RECIPIENT] }' });
    const identity = join(d.root, 'ops.identity');
    const keygen = await runCli(['keygen', '--asymmetric', '--out', identity, '--json']);
    await writeFile(d.config, (await readFile(d.config, 'utf8')).replace('RECIPIENT', `"${keygen.json().publicKey}"`));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);

    const plain = await runCli(['verify', '-c', d.config]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^ok: \d+ objects checked \(1 snapshot by its public header only: no private key here\)\n$/);
    // Reading the data still needs the private key.
    expect((await runCli(['verify', '--read-data', '-c', d.config])).code).toBe(3);
    expect((await runCli(['verify', '--read-data', '-c', d.config, '--identity', identity])).code).toBe(0);

    const [id] = await readdir(join(d.target, 'data', 'app'));
    const segments = join(d.target, 'data', 'app', id!);
    const [first] = (await readdir(segments)).sort();
    await truncate(join(segments, first!), 10);
    const shortened = await runCli(['verify', '-c', d.config, '--json']);
    expect(shortened.code).toBe(3);
    expect(shortened.json().errors[0].code).toBe('E_CHECKSUM');
    await rm(join(segments, first!));
    const missing = await runCli(['verify', '-c', d.config, '--json']);
    expect(missing.code).toBe(3);
    expect(missing.json().errors[0]).toMatchObject({ code: 'E_CORRUPT', object: `data/app/${id}/${first}` });
  });
});
