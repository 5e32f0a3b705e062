/**
 * The `s3` target's YAML options. No AWS SDK import here: the schema is loaded
 * by every command, the SDK only by one that uses an s3 target (client.ts).
 */
import { z } from 'zod';
import { sizeOption } from '../../core/config/schema.js';
import type { StorageCapabilities } from '../../core/contracts.js';
import type { Timeouts } from '../../core/repository/timeouts.js';

/** S3's limits on multipart parts: 5 MiB minimum (but for the last part), 5 GiB maximum. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

const partSize = sizeOption(MIN_PART_SIZE, MAX_PART_SIZE, 'expected a size from 5MiB to 5GiB, like 8MiB');

const checksumMode = z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']);

export const s3OptionsSchema = z
  .object({
    bucket: z.string().min(3).max(63),
    /** Folder inside the bucket, so several deployments can share one bucket. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._/-]*$/, 'use letters, digits, ".", "_", "-" and "/"')
      .default(''),
    region: z.string().min(1).optional(),
    /** An S3-compatible server (MinIO, B2, R2, Wasabi, Ceph); AWS when omitted. */
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().optional(),
    /** Omitted: the SDK's chain (environment, shared config/profile, instance or task role). */
    credentials: z
      .object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().min(1).optional() })
      .strict()
      .optional(),
    storageClass: z
      .string()
      .regex(/^[A-Z_]+$/, 'an S3 storage class such as STANDARD_IA or GLACIER_IR')
      .optional(),
    serverSideEncryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
    kmsKeyId: z.string().min(1).optional(),
    partSize: partSize.default(8 * 1024 * 1024),
    queueSize: z.number().int().min(1).max(32).default(4),
    objectLock: z
      .object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().min(1).max(36500) })
      .strict()
      .optional(),
    requestChecksumCalculation: checksumMode.optional(),
    responseChecksumValidation: checksumMode.optional(),
    /** Attempts per request, the first included, for transient errors (5xx, throttling, resets, timeouts). */
    maxAttempts: z.number().int().min(1).max(20).default(4),
    connectTimeoutMs: z.number().int().min(100).default(5000),
    /** A request whose connection stays silent this long fails (and is retried). */
    idleTimeoutMs: z.number().int().min(100).default(30_000),
    /** One attempt of one request, its body included, that is not done after this long fails (and is retried). */
    operationTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(2 * 3_600_000),
  })
  .strict()
  .refine((o) => o.kmsKeyId === undefined || o.serverSideEncryption?.startsWith('aws:kms'), {
    message: 'kmsKeyId needs serverSideEncryption: aws:kms',
    path: ['kmsKeyId'],
  });

export type S3Options = z.input<typeof s3OptionsSchema>;
export type S3Settings = z.output<typeof s3OptionsSchema>;

/**
 * AWS S3 itself checks the `x-amz-checksum-sha256` every put carries (integrity.ts) and refuses a mismatch, so a put
 * that resolves is known good there: `verifiesChecksums`, and the read-back defaults to off. A custom endpoint may
 * ignore the header (s3rver and Swift do: docs/storage-s3.md, Checksums), so it is not declared for one.
 */
export function s3Capabilities(settings: Pick<S3Settings, 'endpoint'>): StorageCapabilities {
  return { rangeRead: true, persistent: true, verifiesChecksums: settings.endpoint === undefined };
}

/** The options with a run's `--timeout` overrides (core/repository/timeouts.ts) over the YAML's. */
export function withTimeouts(settings: S3Settings, timeouts: Timeouts | undefined): S3Settings {
  return {
    ...settings,
    connectTimeoutMs: timeouts?.connectMs ?? settings.connectTimeoutMs,
    idleTimeoutMs: timeouts?.idleMs ?? settings.idleTimeoutMs,
    operationTimeoutMs: timeouts?.operationMs ?? settings.operationTimeoutMs,
  };
}

/** `backups/host1` → `backups/host1/`; '' stays ''. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** Where requests go, for error messages. */
export function describeEndpoint(settings: S3Settings): string {
  return settings.endpoint ?? `AWS S3${settings.region ? ` ${settings.region}` : ''}`;
}
