/**
 * The CLI against the real sshd through a fault-injecting TCP proxy
 * (test/helpers/tcp-fault-proxy.ts), as test/cli/wire-faults.test.ts does for
 * S3: a byte flipped, a connection dropped or stalled while a backup uploads
 * gives a backup that succeeds, verifies and restores bit-identical (the
 * adapter sends a segment again on a new connection); the same faults while a
 * restore downloads are read again, and the restore is bit-identical. A stream
 * put, which cannot be sent again, is test/adapters/sftp-wire.test.ts's.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { startTcpFaultProxy, type TcpFault, type TcpFaultProxy } from '../helpers/tcp-fault-proxy.js';
import { noRetries, type RetryCounts } from '../../core/repository/retry-counts.js';

let sshd: Sshd;
let proxy: TcpFaultProxy;
beforeAll(async () => {
  sshd = await startSshd();
  proxy = await startTcpFaultProxy({ host: sshd.host, port: sshd.port });
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await sshd?.stop();
});

/** A job storing on an sftp target reached through the proxy, on one connection; a stall ends after five missed keepalives (generous: a busy machine answers late). */
async function deployment(): Promise<Deployment> {
  const d = await makeDeployment({
    targets: `targets:
  nas:
    type: sftp
    host: 127.0.0.1
    port: ${proxy.port}
    username: ${sshd.username}
    path: ${join(sshd.dir, `nas-${randomBytes(4).toString('hex')}`)}
    hostKey: "${sshd.fingerprint}"
    privateKey: ${sshd.clientKey}
    connections: 1
    keepaliveIntervalMs: 1000
    keepaliveCountMax: 5`,
    jobs: `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
    targets: [nas]`,
  });
  await writeFile(join(d.data, 'big.bin'), randomBytes(3 * 1024 * 1024));
  return d;
}

/** Restores bit-identical; the retries its --json counted. */
async function restoreIntact(d: Deployment, name: string): Promise<RetryCounts> {
  const to = join(d.root, name);
  const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--json'], PASS);
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect((await readFile(join(to, 'data', 'big.bin'))).equals(await readFile(join(d.data, 'big.bin')))).toBe(true);
  return retriesOf(restore.stdout);
}

const retriesOf = (stdout: string): RetryCounts => (JSON.parse(stdout) as { retries: RetryCounts }).retries;

const CASES: [TcpFault['kind'], number][] = [
  ['flip', 200_000],
  ['flip', 2_500_000],
  ['drop', 1_500_000],
  ['stall', 1_500_000],
];

describe('CLI with an sftp target behind a faulty link', () => {
  it.each(CASES)('upload, %s at byte %i: the segment is sent again; the backup verifies and restores bit-identical', async (kind, offset) => {
    const d = await deployment();
    const before = proxy.fired;
    proxy.inject({ kind, direction: 'upload', offset });
    const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(proxy.fired).toBe(before + 1);
    // Segments are buffers, which the adapter sends again on a new connection: the backup succeeds, and counts it.
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(retriesOf(backup.stdout).uploads).toBeGreaterThan(0);
    if (kind === 'stall') expect(retriesOf(backup.stdout).stalls).toBeGreaterThan(0);
    expect((await runCli(['verify', 'latest', '--read-data', '-c', d.config], PASS)).code).toBe(0);
    await restoreIntact(d, 'restored');
  });

  it('a link that dies mid-upload and stays dead: E_UNREACHABLE, exit 1, the stall and the connects counted; nothing listed', async () => {
    const d = await deployment();
    const before = proxy.fired;
    proxy.inject({ kind: 'black-hole', direction: 'upload', offset: 1_500_000 });
    try {
      const backup = await runCli(['backup', '-c', d.config, '--timeout', 'idle=1s,connect=1s'], PASS);
      expect(proxy.fired).toBe(before + 1);
      expect(backup.code).toBe(1);
      expect(backup.stderr).toContain('[E_UNREACHABLE]');
      // retries: 3 by default, so 4 tries: the transfer stalled, then no new connection got through.
      expect(backup.stderr).toMatch(/gave up after 4 tries: the connection stalled once, 1 s without a byte, and connecting timed out 3 times \(1 s each\)/);
    } finally {
      proxy.heal();
    }
    const list = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  describe('downloads', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deployment();
      const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
      expect(backup.code).toBe(0);
      expect(retriesOf(backup.stdout)).toEqual(noRetries());
      expect(await restoreIntact(d, 'restored-clean')).toEqual(noRetries());
    });

    it.each(CASES)('%s at byte %i while restoring: read again, and the restore is bit-identical', async (kind, offset) => {
      const before = proxy.fired;
      proxy.inject({ kind, direction: 'download', offset });
      const retries = await restoreIntact(d, `restored-${kind}-${offset}`);
      expect(proxy.fired).toBe(before + 1);
      // Read on from the next byte on a new connection, or (a fault before the stream began) opened again.
      expect(retries.resumed + retries.refetched).toBeGreaterThan(0);
    });
  });
});
