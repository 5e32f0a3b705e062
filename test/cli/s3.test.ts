import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { S3Adapter } from '../../adapters/s3/index.js';
import { Storage } from '../../core/repository/storage.js';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { offsiteTargetYaml, S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3-server.js';

const server = await startS3rver();
afterAll(() => server.stop());

const S3_ENV = { ...PASS, S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };

/** The quick-start deployment with an s3 target, `offsite`, on `bucket`. */
async function s3Deployment(bucket: string, retention = '') {
  const endpoint = server.options(bucket).endpoint!;
  const d = await makeDeployment({
    targets: offsiteTargetYaml(bucket, endpoint),
    jobs: `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
      - { type: config-file, path: ./app/config.json, name: config }
    targets: [offsite]
    ${retention}`,
  });
  return { ...d, endpoint };
}

async function bucketKeys(bucket: string): Promise<string[]> {
  const storage = new Storage(new S3Adapter(server.options(bucket)), 'check');
  const keys: string[] = [];
  for await (const info of storage.list('')) keys.push(info.key);
  await storage.close();
  return keys;
}

const oneLine = (text: string): void => expect(text.trim().split('\n')).toHaveLength(1);

describe('CLI with an s3 target', () => {
  it('backs up to the bucket, lists, restores every byte and verifies', async () => {
    const bucket = `failsafe-cli-${randomBytes(4).toString('hex')}`;
    await server.createBucket(bucket);
    const d = await s3Deployment(bucket);
    await writeFile(join(d.data, 'big.bin'), randomBytes(3 * 1024 * 1024));

    const backup = await runCli(['backup', '-c', d.config, '--json'], S3_ENV);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const [snapshot] = backup.json().snapshots;
    expect(snapshot).toMatchObject({ job: 'app', target: 'offsite' });

    // The objects are in the bucket, under the prefix, and nowhere on disk.
    const keys = await bucketKeys(bucket);
    expect(keys.length).toBeGreaterThan(1);
    expect(keys.every((key) => key.startsWith('planter/'))).toBe(true);
    expect(await readdir(d.root)).not.toContain('target');

    expect((await runCli(['list', '-c', d.config, '--json'], S3_ENV)).json()).toEqual([snapshot]);
    const to = join(d.root, 'restored');
    const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config], S3_ENV);
    expect(restore.code).toBe(0);
    for (const name of ['readings.csv', 'big.bin']) {
      expect((await readFile(join(to, 'data', name))).equals(await readFile(join(d.data, name)))).toBe(true);
    }
    expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toBe(await readFile(d.appConfig, 'utf8'));
    const verify = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], S3_ENV);
    expect(verify.code).toBe(0);
    expect(verify.json()).toMatchObject({ ok: true, errors: [] });
  });

  it('prune keeps what the policy says on the bucket', async () => {
    const bucket = `failsafe-cli-${randomBytes(4).toString('hex')}`;
    await server.createBucket(bucket);
    const d = await s3Deployment(bucket, 'retention: { keepLast: 1 }');
    for (let i = 0; i < 3; i++) expect((await runCli(['backup', '-c', d.config], S3_ENV)).code).toBe(0);
    const newest = (await runCli(['list', '-c', d.config, '--json'], S3_ENV)).json()[0].id as string;
    const prune = await runCli(['prune', '-c', d.config, '--json'], S3_ENV);
    expect(prune.code).toBe(0);
    expect(prune.json().tempRemoved).toEqual({ offsite: 0 });
    expect((await runCli(['list', '-c', d.config, '--json'], S3_ENV)).json().map((s: { id: string }) => s.id)).toEqual([newest]);
    const left = await bucketKeys(bucket);
    expect(left.length).toBeGreaterThan(1);
    expect(left.every((key) => key.includes(newest))).toBe(true);
  });

  it('keys rotate moves a format 2 repository in the bucket from a passphrase to a key file', async () => {
    const bucket = `failsafe-cli-${randomBytes(4).toString('hex')}`;
    await server.createBucket(bucket);
    const d = await s3Deployment(bucket, '');
    const old = await readFile(d.config, 'utf8');
    await writeFile(d.config, `${old}repository: { format: 2 }\n`);
    await writeFile(join(d.data, 'big.bin'), randomBytes(3 * 1024 * 1024));
    for (let i = 0; i < 2; i++) expect((await runCli(['backup', '-c', d.config], S3_ENV)).code).toBe(0);
    const passphraseConfig = join(d.root, 'old.yaml');
    await writeFile(passphraseConfig, await readFile(d.config, 'utf8'));
    await writeFile(join(d.root, 'new.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const keyConfig = (await readFile(d.config, 'utf8')).replace(/^encryption: .*$/m, 'encryption: { keyFile: ./new.key }');
    await writeFile(d.config, keyConfig);

    const rotate = await runCli(['keys', 'rotate', '--old-passphrase-env', 'FAILSAFE_PASSPHRASE', '-c', d.config, '--json'], S3_ENV);
    expect(rotate.code, rotate.stdout + rotate.stderr).toBe(0);
    expect(rotate.json().repositories).toEqual([expect.objectContaining({ target: 'offsite', config: true, snapshots: 2 })]);
    const verify = (config: string): Promise<{ ok: boolean; errors: { code: string }[] }> =>
      runCli(['verify', '--all', '--read-data', '-c', config, '--json'], S3_ENV).then((r) => r.json());
    expect(await verify(d.config)).toMatchObject({ ok: true, errors: [] });
    expect((await verify(passphraseConfig)).errors[0]?.code).toBe('E_WRONG_KEY');
  });

  it('a missing bucket fails the backup with one line naming bucket and endpoint, exit 1', async () => {
    const d = await s3Deployment('failsafe-cli-never-created');
    const backup = await runCli(['backup', '-c', d.config], S3_ENV);
    expect(backup.code).toBe(1);
    oneLine(backup.stderr);
    expect(backup.stderr).toContain('E_BUCKET_NOT_FOUND');
    expect(backup.stderr).toContain('failsafe-cli-never-created');
    expect(backup.stderr).toContain(d.endpoint);
  });

  it('credentials the server does not know fail with E_AUTH, exit 1', async () => {
    const bucket = `failsafe-cli-${randomBytes(4).toString('hex')}`;
    await server.createBucket(bucket);
    const d = await s3Deployment(bucket);
    const backup = await runCli(['backup', '-c', d.config], { ...S3_ENV, S3_ACCESS_KEY_ID: 'NOTAKEYTHESERVERKNOWS' });
    expect(backup.code).toBe(1);
    oneLine(backup.stderr);
    expect(backup.stderr).toContain('E_AUTH');
    expect(backup.stderr).toContain(bucket);
  });

  it('a credentials variable that is not set is a configuration error, exit 2', async () => {
    const d = await s3Deployment('failsafe-cli-any');
    const { S3_SECRET_ACCESS_KEY: _unset, ...env } = S3_ENV;
    const r = await runCli(['backup', '-c', d.config], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('S3_SECRET_ACCESS_KEY');
  });
});
