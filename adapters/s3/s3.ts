/**
 * A bucket on AWS S3 or an S3-compatible server (MinIO, Backblaze B2,
 * Cloudflare R2, Wasabi, Ceph). A PutObject or a completed multipart upload
 * appears whole or not at all, so puts are atomic without temp objects.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter, StorageCapabilities, StorageOptions } from '../../core/contracts.js';
import { isBrokenTransfer } from '../../core/repository/read-again.js';
import { resumable, type OpenedRead } from '../../core/repository/resume.js';
import { sliceStream } from '../../core/repository/storage.js';
import type { AdapterContext } from '../../core/sdk/registry.js';
import { s3Error, type ErrorContext } from './errors.js';
import { abortStale, uploadStream, type MultipartContext } from './multipart.js';
import { createClient } from './client.js';
import { describeEndpoint, normalizePrefix, s3Capabilities, s3OptionsSchema, withTimeouts, type S3Options, type S3Settings } from './options.js';

const DAY = 24 * 60 * 60 * 1000;

export class S3Adapter implements StorageAdapter {
  readonly type = 's3';
  readonly capabilities: StorageCapabilities;
  readonly settings: S3Settings;
  readonly client: S3Client;
  /** Key prefix inside the bucket: '' or ending in '/'. */
  readonly prefix: string;
  readonly #errors: ErrorContext;
  readonly #multipart: MultipartContext;
  #bucketSeen = false;
  #resumed = 0;
  readonly #context: AdapterContext | undefined;

  constructor(options: S3Options, targetName = 's3', context?: AdapterContext) {
    this.settings = withTimeouts(s3OptionsSchema.parse(options), context?.timeouts);
    this.#context = context;
    this.capabilities = s3Capabilities(this.settings);
    this.client = createClient(this.settings, context?.retried);
    this.prefix = normalizePrefix(this.settings.prefix);
    this.#errors = {
      where: `target "${targetName}" (bucket "${this.settings.bucket}" at ${describeEndpoint(this.settings)})`,
      region: this.settings.region,
      connectMs: this.settings.connectTimeoutMs,
      idleMs: this.settings.idleTimeoutMs,
    };
    this.#multipart = { client: this.client, bucket: this.settings.bucket, partSize: this.settings.partSize, queueSize: this.settings.queueSize };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<{ size: number }> {
    return this.#call(`put ${key}`, async () => {
      const params = this.#putParams(key);
      if (Buffer.isBuffer(body) && body.length <= this.settings.partSize) {
        // The caller's hash of these very bytes: integrity.ts sends it rather than hashing them again.
        const checksum = options.sha256 ? { ChecksumSHA256: Buffer.from(options.sha256, 'hex').toString('base64') } : {};
        await this.client.send(new PutObjectCommand({ ...params, ...checksum, Body: body, ContentLength: body.length }), this.#send(options));
        return { size: body.length };
      }
      const stream = Buffer.isBuffer(body) ? Readable.from([body], { objectMode: false }) : body;
      return { size: await uploadStream(this.#multipart, params, stream, options.signal) };
    });
  }

  /**
   * A body whose connection drops or stalls is read on from the byte reached
   * (a ranged GET of the same ETag), up to `maxAttempts - 1` times: the SDK
   * retries requests, not bodies, and starting over would fetch again what
   * arrived.
   */
  async get(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Readable> {
    const start = options.range?.start ?? 0;
    const end = options.range?.end;
    const open = (position: number): Promise<OpenedRead> =>
      this.#openRead(key, position === start ? options.range : { start: position, ...(end === undefined ? {} : { end }) }, options);
    const first = await open(start);
    const retries = this.settings.maxAttempts - 1;
    const counted = (err: unknown): void => {
      this.#resumed++;
      this.#context?.retried?.('resumed', err);
    };
    return retries === 0 ? first.stream : resumable(first, start, retries, open, counted);
  }

  /** Reads that went on from the byte reached after their connection broke. */
  get resumed(): number {
    return this.#resumed;
  }

  async #openRead(key: string, range: ByteRange | undefined, options: StorageOptions): Promise<OpenedRead> {
    return this.#call(`get ${key}`, async () => {
      // A Range on an empty object is unsatisfiable (416), so the whole-object range sends none.
      const wanted = range && (range.start > 0 || range.end !== undefined) ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.#key(key), Range: wanted }), this.#send(options));
      this.#bucketSeen = true;
      const body = bounded(out.Body as Readable, this.settings.operationTimeoutMs);
      const stream = wanted ? exactRange(body, range!, out.ContentRange) : body;
      return { stream, version: `${out.ETag ?? ''} ${out.LastModified?.toISOString() ?? ''}`, lost: isBrokenTransfer };
    });
  }

  async head(key: string, options: StorageOptions = {}): Promise<ObjectInfo | undefined> {
    return this.#call(`head ${key}`, async () => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.#key(key) }), this.#send(options));
        this.#bucketSeen = true;
        return { key, size: out.ContentLength ?? 0, ...(out.LastModified ? { modified: out.LastModified } : {}) };
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw err;
        // A HEAD answers 404 without a body for a missing bucket too: tell the two apart once.
        await this.#checkBucket(options);
        return undefined;
      }
    });
  }

  async *list(prefix: string, options: StorageOptions = {}): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.#call(`list ${prefix || '(all)'}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.#key(prefix), ContinuationToken: token }), this.#send(options)),
      );
      this.#bucketSeen = true;
      // S3 lists in UTF-8 byte order already; some compatible servers do not, so each page is sorted too.
      const contents = (page.Contents ?? []).sort((a, b) => (a.Key! < b.Key! ? -1 : a.Key! > b.Key! ? 1 : 0));
      for (const object of contents) {
        if (!object.Key) continue;
        yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0, ...(object.LastModified ? { modified: object.LastModified } : {}) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string, options: StorageOptions = {}): Promise<void> {
    await this.#call(`delete ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.#key(key) }), this.#send(options)),
    );
  }

  /**
   * Aborts the multipart uploads under our prefix (the whole bucket without one)
   * that were started more than `olderThanMs` ago (default a day): what crashed
   * uploads leave behind, invisible but billed. A server that cannot list
   * multipart uploads has none to clean that we could see: 0.
   */
  async cleanupTemp(olderThanMs = DAY, options: StorageOptions = {}): Promise<number> {
    return this.#call('clean up unfinished uploads', async () => {
      try {
        return await abortStale(this.#multipart, this.prefix, olderThanMs, options.signal);
      } catch (err) {
        if ((err as { name?: string }).name === 'NotImplemented') return 0;
        throw err;
      }
    });
  }

  /** The end of the object's Object Lock retention, when it is still ahead. */
  async lockedUntil(key: string, options: StorageOptions = {}): Promise<Date | undefined> {
    return this.#call(`lock check ${key}`, async () => {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.#key(key) }), this.#send(options));
      const until = out.ObjectLockRetainUntilDate;
      return until && until.getTime() > Date.now() ? until : undefined;
    });
  }

  /**
   * Object Lock retention moved to `objectLock.days` from now. A lock that still has 90% of that ahead is left as it is, so daily prunes
   * write each object's retention about once in a tenth of the period; a later lock (a shortened `days`) is never moved earlier.
   */
  async extendLock(key: string, options: StorageOptions = {}): Promise<Date | undefined> {
    const { bucket, objectLock } = this.settings;
    if (!objectLock) return undefined;
    const period = objectLock.days * DAY;
    const current = await this.lockedUntil(key, options);
    if (current && current.getTime() >= Date.now() + 0.9 * period) return current;
    const until = new Date(Date.now() + period);
    return this.#call(`lock extension ${key}`, async () => {
      const retention = { Mode: objectLock.mode, RetainUntilDate: until };
      await this.client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: this.#key(key), Retention: retention }), this.#send(options));
      return until;
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  #key(key: string): string {
    return this.prefix + key;
  }

  #putParams(key: string): PutObjectCommandInput {
    const { bucket, storageClass, serverSideEncryption, kmsKeyId, objectLock } = this.settings;
    return {
      Bucket: bucket,
      Key: this.#key(key),
      ...(storageClass ? { StorageClass: storageClass as PutObjectCommandInput['StorageClass'] } : {}),
      ...(serverSideEncryption ? { ServerSideEncryption: serverSideEncryption } : {}),
      ...(kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}),
      ...(objectLock
        ? {
            ObjectLockMode: objectLock.mode,
            // S3 refuses Object Lock uploads without an integrity header: every upload has one (integrity.ts).
            ObjectLockRetainUntilDate: new Date(Date.now() + objectLock.days * DAY),
          }
        : {}),
    };
  }

  #send(options: StorageOptions): { abortSignal?: AbortSignal } {
    return options.signal ? { abortSignal: options.signal } : {};
  }

  async #checkBucket(options: StorageOptions): Promise<void> {
    if (this.#bucketSeen) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }), this.#send(options));
      this.#bucketSeen = true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw Object.assign(new Error('the bucket does not exist'), { name: 'NoSuchBucket', cause: err });
      // A key allowed to read objects but not to list the bucket gets 403 here: that is not our concern.
    }
  }

  async #call<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw s3Error(err, this.#errors, what);
    }
  }
}

/** A download's body destroyed, as a stall is, when it is not done `ms` after its head arrived (the operation time-out). */
function bounded(body: Readable, ms: number): Readable {
  const timer = setTimeout(
    () => body.destroy(Object.assign(new Error(`the download was not done after ${ms} ms (operation time-out)`), { name: 'TimeoutError' })),
    ms,
  );
  timer.unref();
  body.once('close', () => clearTimeout(timer));
  return body;
}

/**
 * The bytes asked for, also from servers that answer a range with more than
 * was asked (s3rver sends the whole object for `bytes=0-0`; some ignore Range).
 */
function exactRange(body: Readable, range: ByteRange, contentRange: string | undefined): Readable {
  const match = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  const first = match ? Number(match[1]) : 0;
  const last = match ? Number(match[2]) : Number.POSITIVE_INFINITY;
  if (first === range.start && range.end !== undefined && last === range.end) return body;
  if (first === range.start && range.end === undefined) return body;
  if (first > range.start) {
    body.destroy();
    throw new Error(`the server answered bytes ${first}-${last} for bytes ${range.start}-${range.end ?? ''}`);
  }
  return sliceStream(body, { start: range.start - first, ...(range.end === undefined ? {} : { end: range.end - first }) });
}
