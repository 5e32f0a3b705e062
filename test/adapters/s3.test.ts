import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3Adapter, type S3Options } from '../../adapters/s3/index.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { Storage } from '../../core/repository/storage.js';
import { testStorageAdapter } from '../conformance/storage.js';
import { envServer, startMinio, startS3rver, type S3TestServer } from '../helpers/s3-server.js';
import { startSwiftS3 } from '../helpers/swift-s3.js';
import { s3AdapterTests } from './s3-cases.js';

// s3rver always; Swift's S3 API when Swift is installed (.ci/run installs it); MinIO when a Docker engine answers; a real endpoint when FAILSAFE_TEST_S3_* are set.
const servers: [string, S3TestServer | string][] = [
  ['s3rver', await startS3rver()],
  ['swift', await startSwiftS3()],
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
    ...(name === 's3rver'
      ? { serverLimits: { 'concurrent puts of one key: one whole version wins': 's3rver writes objects in place, S3 replaces them whole' } }
      : {}),
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
    expect(err.message).toContain('gave up after 3 tries: the connection stalled 3 times, 500 ms each without a byte');
  });
});

describe('s3: credentials and region left to the environment', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    // Nothing to find: no variables, no shared files, no instance metadata (and no request leaves the machine).
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/failsafe/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/failsafe/config';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  const put = (options: S3Options): Promise<unknown> =>
    new Storage(new S3Adapter(options, 'offsite'), 'offsite').put('x', Buffer.from('x')).catch((e: unknown) => e);

  it('no credentials anywhere: E_AUTH saying where to put them', async () => {
    const err = (await put({ bucket: 'failsafe-somewhere', region: 'eu-west-1' })) as FailsafeError;
    expect(err.code).toBe('E_AUTH');
    expect(err.message).toContain('no credentials found');
    expect(err.message).toContain('failsafe-somewhere');
  });

  it('credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY', async () => {
    const [[, s3rver]] = servers as [[string, S3TestServer]];
    const bucket = `failsafe-${randomBytes(6).toString('hex')}`;
    await s3rver.createBucket(bucket);
    const { credentials, ...withoutCredentials } = s3rver.options(bucket);
    process.env.AWS_ACCESS_KEY_ID = credentials!.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials!.secretAccessKey;
    expect(await put(withoutCredentials)).toEqual({ size: 1 });
    process.env.AWS_ACCESS_KEY_ID = 'FAILSAFEUNKNOWNKEY';
    expect(((await put(withoutCredentials)) as FailsafeError).code).toBe('E_AUTH');
  });

  it('no region for AWS: a configuration error (exit 2)', async () => {
    const err = (await put({ bucket: 'failsafe-somewhere', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } })) as FailsafeError;
    expect(err.code).toBe('E_CONFIG');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('region');
  });
});
