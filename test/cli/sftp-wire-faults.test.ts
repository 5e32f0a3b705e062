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

async function restoreIntact(d: Deployment, name: string): Promise<void> {
  const to = join(d.root, name);
  const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS);
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect((await readFile(join(to, 'data', 'big.bin'))).equals(await readFile(join(d.data, 'big.bin')))).toBe(true);
}

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
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(proxy.fired).toBe(before + 1);
    // Segments are buffers, which the adapter sends again on a new connection: the backup succeeds.
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect((await runCli(['verify', 'latest', '--read-data', '-c', d.config], PASS)).code).toBe(0);
    await restoreIntact(d, 'restored');
  });

  describe('downloads', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deployment();
      expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    });

    it.each(CASES)('%s at byte %i while restoring: read again, and the restore is bit-identical', async (kind, offset) => {
      const before = proxy.fired;
      proxy.inject({ kind, direction: 'download', offset });
      await restoreIntact(d, `restored-${kind}-${offset}`);
      expect(proxy.fired).toBe(before + 1);
    });
  });
});
