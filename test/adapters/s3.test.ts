import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { S3Adapter } from '../../adapters/s3/index.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { Storage } from '../../core/storage.js';
import { testStorageAdapter } from '../conformance/storage.js';
import { envServer, startMinio, startS3rver, type S3TestServer } from '../helpers/s3-server.js';
import { s3AdapterTests } from './s3-cases.js';

// s3rver always; MinIO when a Docker engine answers; a real endpoint when FAILSAFE_TEST_S3_* are set.
const servers: [string, S3TestServer | string][] = [
  ['s3rver', await startS3rver()],
  ['minio', await startMinio()],
  ['env endpoint', envServer() ?? 'FAILSAFE_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY are not set'],
];
afterAll(async () => {
  for (const [, server] of servers) if (typeof server !== 'string') await server.stop();
});

async function emptyAdapter(adapter: StorageAdapter): Promise<void> {
  const storage = new Storage(adapter, 'cleanup');
  for await (const info of storage.list('')) await storage.delete(info.key);
  await storage.cleanupTemp(0);
}

for (const [name, server] of servers) {
  if (typeof server === 'string') {
    describe.skip(`s3 (${name}): skipped: ${server}`, () => it('conformance', () => {}));
    continue;
  }
  testStorageAdapter(`s3 (${name})`, {
    create: async () => {
      const bucket = `failsafe-${randomBytes(6).toString('hex')}`;
      await server.createBucket(bucket);
      const adapter = new S3Adapter(server.options(bucket, { prefix: `run-${randomUUID().slice(0, 8)}` }), name);
      return adapter;
    },
    // A shared endpoint is left as it was found; the local servers' folders go away whole.
    ...(name === 'env endpoint' ? { destroy: emptyAdapter } : {}),
    reopen: async (adapter) => new S3Adapter((adapter as S3Adapter).settings, name),
    largeSize: 24 * 1024 * 1024,
    ...(name === 's3rver' ? { serverLimits: { 'concurrent puts of one key: one whole version wins': 's3rver writes objects in place, S3 replaces them whole' } } : {}),
    additionalTests: (context) => s3AdapterTests(server, context),
  });
}

describe('s3: endpoints that do not answer', () => {
  const options = (endpoint: string) => ({
    bucket: 'failsafe-nowhere',
    endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 3,
    connectTimeoutMs: 500,
    idleTimeoutMs: 500,
  });
  const fails = async (adapter: S3Adapter): Promise<FailsafeError> => {
    const err = await new Storage(adapter, 'offsite').put('x', Buffer.from('x')).catch((e: unknown) => e);
    await adapter.close();
    expect(err).toBeInstanceOf(FailsafeError);
    return err as FailsafeError;
  };
  const listen = async (onConnection: (socket: Socket) => void): Promise<[Server, number]> => {
    const server = createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return [server, (server.address() as { port: number }).port];
  };

  it('a refused connection: E_UNREACHABLE naming bucket and endpoint, after a bounded number of retries', async () => {
    const [server, port] = await listen((socket) => socket.destroy());
    await new Promise((resolve) => server.close(resolve)); // nothing listens on the port now
    const err = await fails(new S3Adapter(options(`http://127.0.0.1:${port}`), 'offsite'));
    expect(err.code).toBe('E_UNREACHABLE');
    expect(err.message).toContain('failsafe-nowhere');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('a server that accepts and never answers: E_UNREACHABLE once idleTimeoutMs has passed on each attempt', async () => {
    const sockets: Socket[] = [];
    const [server, port] = await listen((socket) => void sockets.push(socket));
    const err = await fails(new S3Adapter(options(`http://127.0.0.1:${port}`), 'offsite'));
    for (const socket of sockets) socket.destroy();
    server.close();
    expect(err.code).toBe('E_UNREACHABLE');
    expect(sockets.length).toBe(3); // maxAttempts, then it gave up
  });
});
