/**
 * The S3 adapter's own cases, run against each S3 server of s3.test.ts.
 * Those needing what a server lacks (multipart listing, signature checks,
 * Object Lock) are skipped there with the reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';
import { S3Adapter, type S3Options } from '../../adapters/s3/index.js';
import { Storage } from '../../core/repository/storage.js';
import type { S3TestServer } from '../helpers/s3-server.js';
import { failure } from '../helpers/errors.js';

const MiB = 1024 * 1024;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The S3 operations a client sends, by command name. */
function recordCommands(adapter: S3Adapter): string[] {
  const sent: string[] = [];
  adapter.client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName!);
      return next(args);
    },
    // Inside the retry loop: every attempt is recorded.
    { step: 'deserialize', name: 'failsafeTestRecorder' },
  );
  return sent;
}

async function pendingUploads(adapter: S3Adapter): Promise<string[]> {
  const out = await adapter.client.send(new ListMultipartUploadsCommand({ Bucket: adapter.settings.bucket, Prefix: adapter.prefix }));
  return (out.Uploads ?? []).map((u) => u.Key!.slice(adapter.prefix.length));
}

export function s3AdapterTests(server: S3TestServer, context: { adapter: () => unknown; storage: () => Storage }): void {
  const adapter = (): S3Adapter => context.adapter() as S3Adapter;
  /** Another adapter on the same bucket and prefix, with other options. */
  const variant = (extra: Partial<S3Options>): S3Adapter => new S3Adapter({ ...adapter().settings, ...extra }, 'variant');
  /** `it`, or a skip that says why when the server lacks what the check needs. */
  const when = (ok: boolean, why: string) => (title: string, test: () => Promise<void>) =>
    ok ? it(title, test) : it.skip(`${title} (not checkable here: ${why})`, test);
  const itListing = when(server.multipartListing, 'the server implements no ListMultipartUploads, ListParts or AbortMultipartUpload');
  const itSigned = when(server.verifiesSignatures, 'the server verifies no signatures');

  it('uploads a stream of several parts as a multipart upload and reads it back whole and by range', async () => {
    const multi = variant({ partSize: 5 * MiB, queueSize: 2 });
    const sent = recordCommands(multi);
    const data = randomBytes(17 * MiB + 3);
    const storage = new Storage(multi, 'multi');
    const chunks = Array.from({ length: Math.ceil(data.length / (MiB / 2)) }, (_, i) => data.subarray(i * (MiB / 2), (i + 1) * (MiB / 2)));
    expect(await storage.put('multi/object', Readable.from(chunks))).toEqual({ size: data.length });
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(4);
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect((await storage.head('multi/object'))?.size).toBe(data.length);
    expect(sha(await storage.getBuffer('multi/object'))).toBe(sha(data));
    // across the boundary of parts 1 and 2
    const across = await storage.getBuffer('multi/object', { range: { start: 5 * MiB - 10, end: 5 * MiB + 9 } });
    expect(across.equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
    await multi.close();
  });

  it('a buffer up to partSize is one PutObject', async () => {
    const sent = recordCommands(adapter());
    await context.storage().put('single', randomBytes(1000));
    expect(sent).toEqual(['PutObjectCommand']);
  });

  it('a multipart upload failing after some parts rejects with the source error and keeps the old object', async () => {
    const multi = variant({ partSize: 5 * MiB, queueSize: 1 });
    const sent = recordCommands(multi);
    const storage = new Storage(multi, 'multi');
    await storage.put('kept', Buffer.from('old version'));
    const body = new PassThrough();
    const putting = storage.put('kept', body);
    body.write(randomBytes(11 * MiB));
    while (!sent.includes('UploadPartCommand')) await new Promise((resolve) => setTimeout(resolve, 20));
    body.destroy(new Error('source died'));
    const err = await failure(putting);
    expect(err.message).toContain('source died');
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect((await storage.getBuffer('kept')).toString()).toBe('old version');
    if (server.multipartListing) expect(await pendingUploads(multi)).toEqual([]);
    await multi.close();
  });

  it('a multipart upload aborted after some parts rejects with E_ABORTED, aborts the upload and keeps the old object', async () => {
    const multi = variant({ partSize: 5 * MiB, queueSize: 2 });
    const sent = recordCommands(multi);
    const storage = new Storage(multi, 'multi');
    await storage.put('aborted', Buffer.from('old version'));
    const controller = new AbortController();
    const body = new PassThrough();
    const putting = storage.put('aborted', body, { signal: controller.signal });
    body.write(randomBytes(12 * MiB));
    while (!sent.includes('UploadPartCommand')) await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    expect((await failure(putting)).code).toBe('E_ABORTED');
    expect(sent).toContain('AbortMultipartUploadCommand');
    // Only a server that lists multipart uploads can show that none is left.
    if (server.multipartListing) expect(await pendingUploads(multi)).toEqual([]);
    expect((await storage.getBuffer('aborted')).toString()).toBe('old version');
    await multi.close();
  });

  itListing('cleanupTemp aborts abandoned uploads older than the grace period only', async () => {
    const a = adapter();
    await a.client.send(new CreateMultipartUploadCommand({ Bucket: a.settings.bucket, Key: `${a.prefix}abandoned` }));
    expect(await a.cleanupTemp()).toBe(0); // younger than a day
    expect(await pendingUploads(a)).toEqual(['abandoned']);
    expect(await context.storage().cleanupTemp(0)).toBe(1);
    expect(await pendingUploads(a)).toEqual([]);
  });

  it('cleanupTemp with nothing abandoned (or a server that cannot list uploads) finds 0', async () => {
    await context.storage().put('kept', Buffer.from('x'));
    expect(await context.storage().cleanupTemp(0)).toBe(0);
    expect((await context.storage().getBuffer('kept')).toString()).toBe('x');
  });

  it('an object without Object Lock is not locked', async () => {
    await context.storage().put('free', Buffer.from('x'));
    expect(await context.storage().lockedUntil('free')).toBeUndefined();
    // A target without `objectLock` locks nothing, so prune's extension stops at its first answer.
    expect(await context.storage().extendLock('free')).toBeUndefined();
  });

  when(server.objectLock, 'the server has no Object Lock')('objectLock: every object is locked for its days, and lockedUntil says until when', async () => {
    const bucket = `failsafe-locked-${randomBytes(4).toString('hex')}`;
    await server.createBucket(bucket, { objectLock: true });
    const locked = new S3Adapter({ ...server.options(bucket), objectLock: { mode: 'GOVERNANCE', days: 2 } }, 'locked');
    const before = Date.now();
    await new Storage(locked, 'locked').put('manifest', Buffer.from('snapshot'));
    await new Storage(locked, 'locked').put('segment', Readable.from([randomBytes(6 * MiB)]));
    for (const key of ['manifest', 'segment']) {
      const until = (await locked.lockedUntil(key))!.getTime();
      expect(until).toBeGreaterThanOrEqual(before + 2 * 86_400_000 - 5000);
      expect(until).toBeLessThanOrEqual(Date.now() + 2 * 86_400_000 + 5000);
      // Still almost the whole period ahead: extending leaves the lock as it is.
      expect((await locked.extendLock(key))!.getTime()).toBe(until);
    }
    await locked.close();
  });

  it('a missing bucket: E_BUCKET_NOT_FOUND naming the bucket and endpoint, for put, list and head', async () => {
    const missing = variant({ bucket: `failsafe-missing-${randomBytes(4).toString('hex')}`, prefix: '' });
    const storage = new Storage(missing, 'gone');
    const attempts = [
      () => storage.put('x', Buffer.from('x')),
      () => storage.head('x'),
      () => storage.getBuffer('x'),
      async () => {
        for await (const info of storage.list('')) void info;
      },
    ];
    for (const attempt of attempts) {
      const err = await failure(attempt());
      expect(err.code).toBe('E_BUCKET_NOT_FOUND');
      expect(err.message).toContain(missing.settings.bucket);
      expect(err.message).toContain(missing.settings.endpoint ?? 'AWS');
      expect(err.message).not.toContain('\n');
    }
    await missing.close();
  });

  it('an unknown access key: E_AUTH at once', async () => {
    const stranger = variant({ credentials: { accessKeyId: 'FAILSAFEUNKNOWNKEY', secretAccessKey: 'whatever-secret' } });
    const sent = recordCommands(stranger);
    const err = await failure(new Storage(stranger, 'stranger').put('x', Buffer.from('x')));
    expect(err.code).toBe('E_AUTH');
    expect(err.message).toContain(stranger.settings.bucket);
    expect(sent).toHaveLength(1); // not retried
    await stranger.close();
  });

  itSigned('a wrong secret: E_AUTH', async () => {
    const original = adapter().settings.credentials!;
    const wrong = variant({ credentials: { accessKeyId: original.accessKeyId, secretAccessKey: `${original.secretAccessKey}x` } });
    const err = await failure(new Storage(wrong, 'wrong').put('x', Buffer.from('x')));
    expect(err.code).toBe('E_AUTH');
    await wrong.close();
  });

  // The region is part of a v4 signature's scope: only a server that checks signatures sees it is wrong.
  itSigned('a wrong region: a one-line error naming it and the bucket, at once', async () => {
    const elsewhere = variant({ region: 'eu-west-1' });
    const sent = recordCommands(elsewhere);
    const err = await failure(new Storage(elsewhere, 'elsewhere').put('x', Buffer.from('x')));
    expect(err.code).toBe('E_STORAGE');
    expect(err.message).toContain('wrong region eu-west-1');
    expect(err.message).toContain(elsewhere.settings.bucket);
    expect(err.message).not.toContain('\n');
    expect(sent).toHaveLength(1); // not retried
    await elsewhere.close();
  });
}
