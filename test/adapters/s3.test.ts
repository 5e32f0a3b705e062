import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { S3Adapter } from '../../adapters/s3/index.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { testStorageAdapter } from '../conformance/storage.js';
import { startS3rver, type S3TestServer } from '../helpers/s3-server.js';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(async () => server?.stop());

const bucketName = (): string => `failsafe-${randomBytes(6).toString('hex')}`;

testStorageAdapter('s3 (s3rver)', {
  create: async () => {
    const bucket = bucketName();
    await server.createBucket(bucket);
    return new S3Adapter(server.options(bucket, { prefix: `deployments/${randomUUID().slice(0, 8)}` }), 's3rver');
  },
  reopen: async (adapter: StorageAdapter) => new S3Adapter((adapter as S3Adapter).settings, 's3rver'),
  largeSize: 24 * 1024 * 1024,
  serverLimits: { 'concurrent puts of one key: one whole version wins': 's3rver writes objects in place, S3 replaces them whole' },
});
