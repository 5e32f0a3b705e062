/** The `s3` target type: AWS S3 and S3-compatible stores. */
import { defineAdapter } from '../../core/registry.js';
import { S3Adapter } from './adapter.js';
import { s3OptionsSchema } from './options.js';

export { S3Adapter } from './adapter.js';
export { s3OptionsSchema, type S3Options } from './options.js';

export const s3Adapter = defineAdapter({
  type: 's3',
  optionsSchema: s3OptionsSchema,
  create: (options, target) => new S3Adapter(options, target),
});
