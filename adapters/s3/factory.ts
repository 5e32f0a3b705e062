/** The `s3` target type, registered without loading the AWS SDK (core/repository/lazy-adapter.ts). */
import { defineLazyAdapter } from '../../core/repository/lazy-adapter.js';
import { s3Capabilities, s3OptionsSchema } from './options.js';

export const s3Adapter = defineLazyAdapter({
  type: 's3',
  optionsSchema: s3OptionsSchema,
  // As S3Adapter's; test/adapters/lazy-targets.test.ts checks they agree.
  capabilities: s3Capabilities,
  optional: ['cleanupTemp', 'lockedUntil', 'extendLock'],
  // The SDK retries each request itself (standard mode, `maxAttempts`, with a retry quota): another layer would multiply the attempts.
  retry: false,
  load: async (options, target, context) => {
    const { S3Adapter } = await import('./s3.js');
    return new S3Adapter(options, target, context);
  },
});
