/**
 * Multipart uploads: streams of unknown length through lib-storage's Upload
 * (parts of `partSize`, `queueSize` in flight, so at most partSize × queueSize
 * bytes buffered), and the clean-up of uploads a crash left behind.
 */
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface MultipartContext {
  client: S3Client;
  bucket: string;
  partSize: number;
  queueSize: number;
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}

/**
 * Uploads a stream of unknown length; resolves with the bytes stored. On any
 * failure or abort the multipart upload is aborted before this rejects (the
 * previous object stays as it was; no parts are left to pay for).
 */
export async function uploadStream(context: MultipartContext, params: PutObjectCommandInput, body: Readable, signal?: AbortSignal): Promise<number> {
  let size = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      callback(null, chunk);
    },
  });
  // pipeline destroys `counted` with the source's error, which fails the upload.
  let sourceError: unknown;
  pipeline(body, counted).catch((err: unknown) => void (sourceError ??= err));
  // The signal is not handed to Upload: its own abort rejects at once, before the
  // multipart upload is aborted. Failing the data stream instead lets Upload wait
  // for its parts in flight and abort the multipart upload, then reject.
  const onAbort = (): void => void counted.destroy(abortError(signal!));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    signal?.throwIfAborted();
    const upload = new Upload({
      client: context.client,
      // Declared when the upload is created, as S3 requires of uploads whose parts carry checksums (integrity.ts adds them).
      params: { ...params, ChecksumAlgorithm: 'SHA256', Body: counted },
      partSize: context.partSize,
      queueSize: context.queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
    return size;
  } catch (err) {
    body.destroy();
    counted.destroy();
    // The cause, rather than a failure of the clean-up that followed it.
    throw signal?.aborted ? abortError(signal) : (sourceError ?? err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Aborts our unfinished multipart uploads under `prefix` started more than `olderThanMs` ago; returns how many. */
export async function abortStale(context: MultipartContext, prefix: string, olderThanMs: number, signal?: AbortSignal): Promise<number> {
  let aborted = 0;
  for await (const upload of listUploads(context, prefix, signal)) {
    if (!upload.Key || !upload.UploadId) continue;
    // 0 means all: a server's Initiated can lie ahead of our clock (Swift rounds it up to the second).
    if (olderThanMs > 0 && Date.now() - (upload.Initiated?.getTime() ?? 0) < olderThanMs) continue;
    await context.client.send(
      new AbortMultipartUploadCommand({ Bucket: context.bucket, Key: upload.Key, UploadId: upload.UploadId }),
      signal ? { abortSignal: signal } : {},
    );
    aborted++;
  }
  return aborted;
}

async function* listUploads(context: MultipartContext, prefix: string, signal?: AbortSignal) {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await context.client.send(
      new ListMultipartUploadsCommand({ Bucket: context.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      signal ? { abortSignal: signal } : {},
    );
    yield* page.Uploads ?? [];
    ({ NextKeyMarker: keyMarker, NextUploadIdMarker: uploadIdMarker } = page.IsTruncated ? page : { NextKeyMarker: undefined, NextUploadIdMarker: undefined });
  } while (keyMarker !== undefined);
}
