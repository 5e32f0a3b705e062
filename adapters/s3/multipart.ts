/**
 * Multipart uploads: streams of unknown length through lib-storage's Upload
 * (parts of `partSize`, `queueSize` in flight, so at most partSize × queueSize
 * bytes buffered), and the continuation of an interrupted upload from the
 * parts S3 already holds (ListParts), which Upload cannot do.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PendingUpload } from '../../core/contracts.js';

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
      params: { ...params, Body: counted },
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

/** The newest unfinished multipart upload of `fullKey`, with the bytes its leading parts hold. */
export async function findPending(context: MultipartContext, fullKey: string, key: string, signal?: AbortSignal): Promise<PendingUpload | undefined> {
  let newest: { UploadId: string; Initiated: Date } | undefined;
  for await (const upload of listUploads(context, fullKey, signal)) {
    if (upload.Key !== fullKey || !upload.UploadId) continue;
    const initiated = upload.Initiated ?? new Date(0);
    if (!newest || initiated > newest.Initiated) newest = { UploadId: upload.UploadId, Initiated: initiated };
  }
  if (!newest) return undefined;
  const parts = await listParts(context, fullKey, newest.UploadId, signal);
  // Only the unbroken run of equal, full parts from part 1 is reused; anything after it is uploaded again.
  const partSize = parts[0]?.Size ?? context.partSize;
  let reusable = 0;
  while (reusable < parts.length && parts[reusable]!.PartNumber === reusable + 1 && parts[reusable]!.Size === partSize) reusable++;
  return { key, uploadId: newest.UploadId, started: newest.Initiated, partSize, parts: reusable, storedBytes: reusable * partSize };
}

/** Finishes `pending` with `rest`, the object's bytes from `pending.storedBytes` on; resolves with the object's size. */
export async function resumePending(
  context: MultipartContext,
  fullKey: string,
  pending: PendingUpload,
  rest: Readable | Buffer,
  signal?: AbortSignal,
): Promise<number> {
  const { client, bucket } = context;
  const listed = await listParts(context, fullKey, pending.uploadId, signal);
  const done: CompletedPart[] = listed.slice(0, pending.parts).map((p) => ({ PartNumber: p.PartNumber!, ETag: p.ETag! }));
  let size = pending.storedBytes;
  let partNumber = pending.parts;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const source = Buffer.isBuffer(rest) ? Readable.from([rest], { objectMode: false }) : rest;
  try {
    for await (const part of chunks(source, pending.partSize)) {
      if (failure) break;
      signal?.throwIfAborted();
      const number = ++partNumber;
      if (part.length === 0 && number > 1) break; // nothing after the stored parts
      size += part.length;
      const sending = client
        .send(
          new UploadPartCommand({ Bucket: bucket, Key: fullKey, UploadId: pending.uploadId, PartNumber: number, Body: part, ContentLength: part.length }),
          signal ? { abortSignal: signal } : {},
        )
        .then((out) => void done.push({ PartNumber: number, ETag: out.ETag! }))
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      if (inFlight.size >= context.queueSize) await Promise.race(inFlight);
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure;
  done.sort((a, b) => a.PartNumber! - b.PartNumber!);
  await client.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: fullKey, UploadId: pending.uploadId, MultipartUpload: { Parts: done } }),
    signal ? { abortSignal: signal } : {},
  );
  return size;
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

async function listParts(context: MultipartContext, fullKey: string, uploadId: string, signal?: AbortSignal) {
  const parts = [];
  let marker: string | undefined;
  do {
    const page = await context.client.send(
      new ListPartsCommand({ Bucket: context.bucket, Key: fullKey, UploadId: uploadId, PartNumberMarker: marker }),
      signal ? { abortSignal: signal } : {},
    );
    parts.push(...(page.Parts ?? []));
    marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
  } while (marker !== undefined);
  return parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
}

/** `source` cut into buffers of exactly `size` bytes, the last one shorter (possibly empty). */
async function* chunks(source: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    pending.push(chunk);
    length += chunk.length;
    while (length >= size) {
      const joined = Buffer.concat(pending, length);
      yield joined.subarray(0, size);
      pending = [joined.subarray(size)];
      length -= size;
    }
  }
  yield Buffer.concat(pending, length);
}
