/** The crash-recovery suite against the S3 adapter, on a real s3rver process. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { S3Adapter } from '../../adapters/s3/index.js';
import { describeCrashRecovery } from '../helpers/crash-recovery.js';
import { startS3rver, type S3TestServer } from '../helpers/s3-server.js';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(async () => server?.stop());

describeCrashRecovery('an S3 target (s3rver)', async () => {
  const bucket = `failsafe-crash-${randomBytes(6).toString('hex')}`;
  await server.createBucket(bucket);
  const options = server.options(bucket, { prefix: 'backups' });
  return {
    yaml: JSON.stringify({ type: 's3', ...options }),
    keys: async () => {
      const adapter = new S3Adapter(options, 's3');
      const out: string[] = [];
      for await (const object of adapter.list('')) out.push(object.key);
      await adapter.close?.();
      return out.sort();
    },
  };
});
