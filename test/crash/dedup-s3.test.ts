/** kill -9 of deduplicating backups and prunes on a real S3 server process (s3rver). */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { describeDedupCrashes } from '../helpers/dedup-crash.js';
import { startS3rver, type S3TestServer } from '../helpers/s3-server.js';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(async () => server?.stop());

describeDedupCrashes('an S3 target (s3rver)', async () => {
  const bucket = `failsafe-dedup-${randomBytes(6).toString('hex')}`;
  await server.createBucket(bucket);
  return { type: 's3', ...server.options(bucket, { prefix: 'backups' }) };
});
