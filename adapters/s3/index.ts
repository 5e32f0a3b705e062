/** The `s3` target type: AWS S3 and S3-compatible stores. Importing this module loads the AWS SDK. */
export { S3Adapter } from './s3.js';
export { s3Adapter } from './factory.js';
export { s3OptionsSchema, type S3Options } from './options.js';
