/**
 * The CLI against s3rver through a fault-injecting proxy (test/helpers/fault-proxy.ts):
 * a byte flipped in an upload never gives a backup that then fails verify, and a
 * byte flipped, a connection dropped or stalled while downloading a segment is
 * fetched again, so restore and verify succeed, bit-identical; only an object
 * damaged on every try is E_CHECKSUM (exit 3), saying how many tries were made.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { offsiteTargetYaml, S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3-server.js';
import { noRetries, type RetryCounts } from '../../core/repository/retry-counts.js';

const server = await startS3rver();
const upstream = new URL(server.options('any').endpoint!);
const proxy: FaultProxy = await startFaultProxy({ host: upstream.hostname, port: Number(upstream.port) });
afterAll(async () => {
  await proxy.stop();
  await server.stop();
});

const ENV = { ...PASS, S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };

async function deployment(bucket: string): Promise<Deployment> {
  await server.createBucket(bucket);
  const d = await makeDeployment({
    // A stall ends after a second of silence, and the request is sent again.
    targets: offsiteTargetYaml(bucket, proxy.endpoint, ['idleTimeoutMs: 1000']),
    jobs: `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
    targets: [offsite]`,
  });
  await writeFile(join(d.data, 'big.bin'), randomBytes(3 * 1024 * 1024));
  return d;
}

/** Restores the latest snapshot under `name`, then checks every byte of big.bin; the retries its --json counted. */
async function restoreIntact(d: Deployment, name: string): Promise<RetryCounts> {
  const to = join(d.root, name);
  const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--json'], ENV);
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect((await readFile(join(to, 'data', 'big.bin'))).equals(await readFile(join(d.data, 'big.bin')))).toBe(true);
  return (JSON.parse(restore.stdout) as { retries: RetryCounts }).retries;
}

const retriesOf = (stdout: string): RetryCounts => (JSON.parse(stdout) as { retries: RetryCounts }).retries;

/** A fault in the body of the first segment object, uploaded or downloaded. */
const fault = (bucket: string, kind: Fault['kind'], direction: Fault['direction'], offset: number, times = 1): Fault => ({
  kind,
  direction,
  request: new RegExp(`^${direction === 'upload' ? 'PUT' : 'GET'} /${bucket}/planter/data/app/[^/]+/00000000[ ?]`),
  offset,
  times,
});

describe('CLI with an s3 target behind a faulty link', () => {
  it('a byte flipped in an upload: the backup succeeds and verifies, or fails; never succeeds over damage', async () => {
    const bucket = `failsafe-wire-${randomBytes(4).toString('hex')}`;
    const d = await deployment(bucket);
    const before = proxy.fired;
    proxy.inject(fault(bucket, 'flip', 'upload', 1000));
    const backup = await runCli(['backup', '-c', d.config, '--json'], ENV);
    expect(proxy.fired).toBe(before + 1);
    if (backup.code === 0) {
      // The damaged upload was sent again, and --json counts it.
      expect(retriesOf(backup.stdout).uploads).toBeGreaterThan(0);
      const verify = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], ENV);
      expect(verify.code).toBe(0);
      expect(retriesOf(verify.stdout)).toEqual(noRetries());
      await restoreIntact(d, 'restored');
    } else expect(backup.stderr).toMatch(/E_STORAGE|BadDigest|damaged/);
  });

  it('an upload that stalls once: sent again, the backup succeeds and counts one stall', async () => {
    const bucket = `failsafe-wire-${randomBytes(4).toString('hex')}`;
    const d = await deployment(bucket);
    const before = proxy.fired;
    proxy.inject(fault(bucket, 'stall', 'upload', 100_000));
    const backup = await runCli(['backup', '-c', d.config, '--json'], ENV);
    expect(proxy.fired).toBe(before + 1);
    expect(backup.code).toBe(0);
    expect(retriesOf(backup.stdout)).toMatchObject({ uploads: 1, stalls: 1 });
  });

  it('an upload that stalls on every attempt: E_UNREACHABLE, exit 1, the stalls counted in the message; nothing listed', async () => {
    const bucket = `failsafe-wire-${randomBytes(4).toString('hex')}`;
    const d = await deployment(bucket);
    const before = proxy.fired;
    // maxAttempts is 4 by default: each attempt of the first segment's PutObject stalls.
    proxy.inject(fault(bucket, 'stall', 'upload', 100_000, 4));
    const backup = await runCli(['backup', '-c', d.config, '--timeout', 'idle=1500ms'], ENV);
    expect(proxy.fired).toBe(before + 4);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain('[E_UNREACHABLE]');
    expect(backup.stderr).toMatch(/gave up after 4 tries: the connection stalled 4 times, 1\.5 s each without a byte/);
    const list = await runCli(['list', '-c', d.config, '--json'], ENV);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  describe('downloads', () => {
    const bucket = `failsafe-wire-${randomBytes(4).toString('hex')}`;
    let d: Deployment;
    beforeAll(async () => {
      d = await deployment(bucket);
      const backup = await runCli(['backup', '-c', d.config, '--json'], ENV);
      expect(backup.code).toBe(0);
      // Without a fault nothing is retried.
      expect(retriesOf(backup.stdout)).toEqual(noRetries());
    });

    it('without a fault, a restore retries nothing', async () => {
      expect(await restoreIntact(d, 'restored-clean')).toEqual(noRetries());
    });

    it.each([
      ['a byte flipped', 'flip', 100],
      ['a byte flipped deep in a segment', 'flip', 2_000_000],
      ['a dropped connection', 'drop', 70_000],
      ['a stalled connection', 'stall', 5000],
    ] as const)('%s while restoring: the segment is fetched again and the restore is bit-identical', async (_, kind, offset) => {
      const before = proxy.fired;
      proxy.inject(fault(bucket, kind, 'download', offset));
      const retries = await restoreIntact(d, `restored-${kind}-${offset}`);
      expect(proxy.fired).toBe(before + 1);
      // A flipped byte fails its check and is fetched again; a broken connection is read on from the byte reached.
      expect(kind === 'flip' ? retries.refetched : retries.resumed).toBeGreaterThan(0);
      if (kind === 'stall') expect(retries.stalls).toBeGreaterThan(0);
    });

    it('a byte flipped while verifying --read-data: fetched again, the snapshot verifies', async () => {
      const before = proxy.fired;
      proxy.inject(fault(bucket, 'flip', 'download', 4321));
      const verify = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], ENV);
      expect(verify.code).toBe(0);
      expect(proxy.fired).toBe(before + 1);
      expect(retriesOf(verify.stdout).refetched).toBeGreaterThan(0);
    });

    it('a byte flipped during a drill: fetched again, the drill passes and --json counts the fetch', async () => {
      const before = proxy.fired;
      proxy.inject(fault(bucket, 'flip', 'download', 777));
      const drill = await runCli(['drill', '--scratch', d.root, '-c', d.config, '--json'], ENV);
      expect(drill.code).toBe(0);
      expect(proxy.fired).toBe(before + 1);
      expect(retriesOf(drill.stdout).refetched).toBeGreaterThan(0);
    });

    it('a segment damaged on every try: E_CHECKSUM, exit 3, saying how many tries were made', async () => {
      const before = proxy.fired;
      proxy.inject(fault(bucket, 'flip', 'download', 100, 3));
      const restore = await runCli(['restore', 'latest', '--to', join(d.root, 'never'), '-c', d.config], ENV);
      expect(proxy.fired).toBe(before + 3);
      expect(restore.code).toBe(3);
      expect(restore.stderr).toContain('E_CHECKSUM');
      expect(restore.stderr).toMatch(/3 tries/);
    });
  });
});
