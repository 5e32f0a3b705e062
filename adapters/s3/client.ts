/** The S3 client an `s3` target's options configure. */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isStall, type RetryKind, type RetryListener } from '../../core/repository/retry-counts.js';
import { checkUploads } from './integrity.js';
import type { S3Settings } from './options.js';

export function createClient(settings: S3Settings, retried?: RetryListener): S3Client {
  const custom = settings.endpoint !== undefined;
  const config: S3ClientConfig = {
    // The SDK needs a region even where the server ignores it (MinIO, Ceph); R2 accepts `auto`.
    ...(settings.region ? { region: settings.region } : custom ? { region: 'us-east-1' } : {}),
    ...(custom ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle ?? custom,
    // A copy: the SDK writes bookkeeping into the credentials object it is given.
    ...(settings.credentials ? { credentials: { ...settings.credentials } } : {}),
    // Recent SDKs add flexible checksums (CRC32, aws-chunked encoding) to every upload. Several
    // S3-compatible servers mishandle the chunked framing — one stored the framing inside the
    // object and reported success. Against a custom endpoint the SDK sends its checksums only where
    // the API requires them; every upload carries our SHA-256 as a header instead (integrity.ts).
    requestChecksumCalculation: settings.requestChecksumCalculation ?? (custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED'),
    responseChecksumValidation: settings.responseChecksumValidation ?? (custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED'),
    // The SDK's standard strategy: exponential backoff with full jitter on throttling, 5xx,
    // connection resets and timeouts, with a retry quota; maxAttempts bounds each request.
    retryMode: 'standard',
    maxAttempts: settings.maxAttempts,
    // Idle time rather than a total: a large part on a slow link may take long, a silent socket may not.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.connectTimeoutMs,
      socketTimeout: settings.idleTimeoutMs,
      // Until the answer's head: an upload's whole body, however slowly it trickles. A download's body is s3.ts's.
      requestTimeout: settings.operationTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  };
  const client = new S3Client(config);
  checkUploads(client);
  if (retried) countRetries(client, retried, settings);
  return client;
}

const UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand', 'CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand']);

/** Tells `retried` of each attempt the SDK's retry strategy makes again, with the failure of the one before. */
function countRetries(client: S3Client, retried: RetryListener, settings: S3Settings): void {
  client.middlewareStack.add(
    (next, context) => {
      const command = context.commandName ?? '';
      const kind: RetryKind = UPLOADS.has(command) ? 'uploads' : command === 'GetObjectCommand' ? 'refetched' : 'other';
      // One handler per call, run once per attempt: a second run is a retry of the first.
      let previous: { error: unknown } | undefined;
      let number = 0;
      return async (args) => {
        if (previous) {
          const stalled = isStall(previous.error) ? { stalledMs: settings.idleTimeoutMs } : {};
          retried(kind, previous.error, { number, of: settings.maxAttempts, ...stalled });
        }
        number++;
        try {
          return await next(args);
        } catch (err) {
          previous = { error: err };
          throw err;
        }
      };
    },
    // Inside the retry loop (high in this step), so it runs for each attempt; outside the deserializer and the upload
    // check (integrity.ts), so it sees the failures they raise.
    { step: 'finalizeRequest', priority: 'low', name: 'failsafeRetryCount' },
  );
}
