/**
 * The SFTP adapter against the real sshd through a fault-injecting TCP proxy
 * (test/helpers/tcp-fault-proxy.ts): the S3 wire cases — a byte flipped, the
 * connection dropped or stalled, in each direction, at several offsets. SSH's
 * MAC turns a flipped byte into a connection the reader ends, so every case is
 * a lost connection: a buffer put is sent again and a download goes on from
 * the next byte, both bit-identical; a stream put, which cannot be replayed,
 * fails with the documented E_STORAGE, and the rerun completes. After each
 * case, nothing broken is listed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftpAdapter } from '../../adapters/sftp/sftp.js';
import { CheckpointStore } from '../../core/checkpoints/store.js';
import { Storage } from '../../core/repository/storage.js';
import { failure } from '../helpers/errors.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { startTcpFaultProxy, type TcpFault, type TcpFaultProxy } from '../helpers/tcp-fault-proxy.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const DATA = randomBytes(2 * 1024 * 1024 + 17);

let sshd: Sshd;
let proxy: TcpFaultProxy;
let stores = 0;
beforeAll(async () => {
  sshd = await startSshd();
  proxy = await startTcpFaultProxy({ host: sshd.host, port: sshd.port });
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await sshd?.stop();
});

/** A store reached through the proxy on one connection (so a fault hits the transfer), and the same folder directly. */
async function setup(): Promise<{ adapter: SftpAdapter; storage: Storage; direct: Storage; close: () => Promise<void> }> {
  const path = join(sshd.dir, `wire-${++stores}`);
  const base = { host: sshd.host, username: sshd.username, path, hostKey: sshd.fingerprint, privateKey: sshd.clientKey };
  // A stall ends after five unanswered keepalives, a second apart: generous, as a busy machine answers late.
  const adapter = new SftpAdapter({ ...base, port: proxy.port, connections: 1, keepaliveIntervalMs: 1000, keepaliveCountMax: 5 }, 'nas');
  const storage = new Storage(adapter, 'nas');
  const direct = new Storage(new SftpAdapter({ ...base, port: sshd.port }, 'direct'), 'direct');
  // Connected and logged in before the fault is armed: it then falls in the transfer, not the handshake.
  await storage.put('warm', Buffer.from('up'));
  return {
    adapter,
    storage,
    direct,
    close: async () => {
      await storage.close();
      await direct.close();
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Every listed object is whole: `expected` names each one and its bytes. */
async function nothingBroken(direct: Storage, expected: Record<string, Buffer>): Promise<void> {
  const listed: string[] = [];
  for await (const info of direct.list('')) listed.push(info.key);
  expect(listed.sort()).toEqual(Object.keys(expected).sort());
  for (const [key, bytes] of Object.entries(expected)) expect(sha(await direct.getBuffer(key))).toBe(sha(bytes));
}

const CASES: [TcpFault['kind'], number][] = [
  ['flip', 1000],
  ['flip', 1_500_000],
  ['drop', 1000],
  ['drop', 1_500_000],
  ['stall', 700_000],
];

describe('sftp wire faults (OpenSSH)', () => {
  it.each(CASES)('upload, %s at byte %i: the buffer put is sent again on a new connection and stores the bytes given', async (kind, offset) => {
    const { adapter, storage, direct, close } = await setup();
    try {
      const before = proxy.fired;
      proxy.inject({ kind, direction: 'upload', offset });
      expect(await storage.put('snap/seg', DATA)).toEqual({ size: DATA.length });
      expect(proxy.fired).toBe(before + 1);
      expect(adapter.retried).toBeGreaterThanOrEqual(1);
      await nothingBroken(direct, { warm: Buffer.from('up'), 'snap/seg': DATA });
    } finally {
      await close();
    }
  });

  it.each(CASES)('download, %s at byte %i: the read goes on from the next byte and is bit-identical', async (kind, offset) => {
    const { adapter, storage, direct, close } = await setup();
    try {
      await direct.put('snap/seg', DATA);
      const before = proxy.fired;
      proxy.inject({ kind, direction: 'download', offset });
      const chunks = await (await storage.get('snap/seg')).toArray();
      expect(sha(Buffer.concat(chunks as Buffer[]))).toBe(sha(DATA));
      expect(proxy.fired).toBe(before + 1);
      expect(adapter.retried).toBeGreaterThanOrEqual(1);
    } finally {
      await close();
    }
  });

  it.each(CASES.map(([kind]) => kind).flatMap((kind) => [[kind, 'upload'] as const, [kind, 'download'] as const]))(
    'the checkpoint store through the link, %s on %s: the record saved and read back whole',
    async (kind, direction) => {
      const { storage, direct, close } = await setup();
      try {
        const checkpoints = new CheckpointStore(storage);
        // A record large enough for the fault to fall inside it.
        const data = { rows: randomBytes(150_000).toString('base64') };
        const before = proxy.fired;
        if (direction === 'upload') proxy.inject({ kind, direction, offset: 100_000 });
        const saved = await checkpoints.save({ operationId: 'import', operationName: 'import', state: 'running', progress: 0.5, data });
        if (direction === 'download') proxy.inject({ kind, direction, offset: 100_000 });
        expect((await checkpoints.load(saved.checkpointId))?.data).toEqual(data);
        expect(proxy.fired).toBe(before + 1);
        expect((await new CheckpointStore(direct).latest('import'))?.data).toEqual(data);
      } finally {
        await close();
      }
    },
  );

  it.each([
    ['flip', 1_000_000],
    ['drop', 1_000_000],
  ] as const)('a stream put, %s at byte %i: E_STORAGE naming the object, nothing partial listed, and the rerun completes', async (kind, offset) => {
    const { storage, direct, close } = await setup();
    try {
      const old = Buffer.from('previous');
      await storage.put('snap/seg', old);
      proxy.inject({ kind, direction: 'upload', offset });
      const chunks = Array.from({ length: 8 }, (_, i) => DATA.subarray(i * 262_144, (i + 1) * 262_144));
      const err = await failure(storage.put('snap/seg', Readable.from(chunks)));
      expect(err.code).toBe('E_STORAGE');
      expect(err.message).toContain('snap/seg');
      await nothingBroken(direct, { warm: Buffer.from('up'), 'snap/seg': old });
      expect(await storage.put('snap/seg', Readable.from(chunks))).toEqual({ size: 8 * 262_144 });
      await nothingBroken(direct, { warm: Buffer.from('up'), 'snap/seg': DATA.subarray(0, 8 * 262_144) });
    } finally {
      await close();
    }
  });
});
