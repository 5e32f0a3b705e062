/**
 * Every PutObject and UploadPart proves that the store holds the bytes sent.
 * Each carries the SHA-256 of its body twice: as `x-amz-checksum-sha256`
 * (checked by AWS, MinIO, R2) and as the signed payload hash
 * `x-amz-content-sha256` (checked by AWS and Swift's S3 API). One hash serves
 * both, and the signer, finding the header, does not hash the body again; a
 * caller that already has the hash (`put`'s `sha256`) spares even that one.
 * A store that checks neither (s3rver) is caught by its answer: one that does
 * not echo our SHA-256 has its ETag, the MD5 of what it stored, compared with
 * the MD5 of what was sent. Headers, not aws-chunked trailers: lib-storage
 * buffers each part, so every body here is whole (docs/storage-s3.md, Checksums).
 *
 * A mismatch, found by the store (BadDigest) or here, means the bytes were
 * damaged on the way: it is marked retryable, so the SDK sends the request
 * again (`maxAttempts`); when every attempt fails, the put fails.
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';

const UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand']);
/** What S3-compatible stores answer when a body does not match its checksum or its signed hash. */
const DAMAGED = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);

interface WireRequest {
  headers: Record<string, string>;
  body?: unknown;
}
interface WireResponse {
  headers?: Record<string, string | undefined>;
}

function damaged(message: string): Error {
  // $retryable: the SDK's retry strategy retries errors that carry it (a retryable trait).
  return Object.assign(new Error(message), { name: 'BadDigest', $retryable: {}, $metadata: {} });
}

/** Why the store's answer shows it holds other bytes than `body`, or undefined when it does not. */
export function answerMismatch(response: WireResponse, body: Uint8Array, sha256: string): string | undefined {
  const headers = response.headers ?? {};
  const echoed = headers['x-amz-checksum-sha256'];
  if (echoed !== undefined) return echoed === sha256 ? undefined : `the store computed SHA-256 ${echoed}, ${sha256} was sent`;
  // An ETag is the MD5 of the bytes stored for a single PUT or a part, except under SSE-KMS or SSE-C.
  const etag = headers.etag?.replace(/"/g, '');
  if (!etag || !/^[0-9a-f]{32}$/i.test(etag) || headers['x-amz-server-side-encryption']?.startsWith('aws:kms')) return undefined;
  const md5 = createHash('md5').update(body).digest('hex');
  return etag.toLowerCase() === md5 ? undefined : `the store holds MD5 ${etag}, ${md5} was sent`;
}

/** Adds the checksums and the check of the answer to every upload `client` sends. */
export function checkUploads(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as WireRequest;
      if (!UPLOADS.has(context.commandName ?? '') || !(request.body instanceof Uint8Array)) return next(args);
      const given = request.headers['x-amz-checksum-sha256'];
      const sha256 = given ?? createHash('sha256').update(request.body).digest('base64');
      request.headers['x-amz-checksum-sha256'] = sha256;
      request.headers['x-amz-content-sha256'] = Buffer.from(sha256, 'base64').toString('hex');
      return next(args);
    },
    // Before the SDK's flexible checksums, which then see ours and add none; once per call, not per attempt.
    { step: 'build', priority: 'high', name: 'failsafeUploadChecksums' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as WireRequest;
      if (!UPLOADS.has(context.commandName ?? '') || !(request.body instanceof Uint8Array)) return next(args);
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(args);
      } catch (err) {
        if (DAMAGED.has((err as { name?: string }).name ?? '')) Object.assign(err as object, { $retryable: {} });
        throw err;
      }
      const mismatch = answerMismatch(result.response as WireResponse, request.body, request.headers['x-amz-checksum-sha256']!);
      if (mismatch) throw damaged(`the upload was damaged on the way: ${mismatch}`);
      return result;
    },
    // Outside the deserializer and inside the retry loop: each attempt's answer is checked, and a failed check is retried.
    { step: 'deserialize', priority: 'high', name: 'failsafeUploadCheck' },
  );
}
