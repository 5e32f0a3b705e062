/**
 * S3 servers for the tests: a local s3rver process by default, Swift's S3
 * API (swift-s3.ts) when Swift is installed, and, when available, MinIO
 * through testcontainers or a real endpoint from the environment. s3rver
 * knows access key ids (S3RVER is its only one) but verifies no signatures,
 * ignores conditional requests, and implements neither ListMultipartUploads,
 * ListParts nor AbortMultipartUpload: tests of those run only against the
 * others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from '../../adapters/s3/index.js';

export interface S3TestServer {
  /** Options for an adapter on this server, on `bucket` (created by `createBucket`). */
  options(bucket: string, extra?: Partial<S3Options>): S3Options;
  createBucket(bucket: string, options?: { objectLock?: boolean }): Promise<void>;
  /** What the server checks, for tests that need a real S3's behaviour. */
  verifiesSignatures: boolean;
  multipartListing: boolean;
  /** `createBucket` can make buckets with Object Lock. */
  objectLock: boolean;
  stop(): Promise<void>;
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The CLI's `targets:` YAML for an s3 target `offsite` under `planter/`, its credentials from S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY. */
export function offsiteTargetYaml(bucket: string, endpoint: string, extraOptions: string[] = []): string {
  return `targets:
  offsite:
    type: s3
    bucket: ${bucket}
    prefix: planter
    endpoint: ${endpoint}
${extraOptions.map((line) => `    ${line}\n`).join('')}    credentials: { accessKeyId: "\${S3_ACCESS_KEY_ID}", secretAccessKey: "\${S3_SECRET_ACCESS_KEY}" }`;
}

export async function createBucketOn(options: S3Options, objectLock = false): Promise<void> {
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
  });
  await client.send(new CreateBucketCommand({ Bucket: options.bucket, ...(objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
  client.destroy();
}

/** Starts s3rver as its own node process on a free loopback port, with a temp data folder. */
export async function startS3rver(): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'failsafe-s3rver-'));
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  // Without the legacy provider, s3rver's ListObjectsV2 continuation tokens answer 500 on Node 20.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', directory, '-a', '127.0.0.1', '-p', '0', '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await listeningPort(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const server: S3TestServer = {
    options: (bucket, extra = {}) => ({ bucket, endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, ...extra }),
    createBucket: (bucket) => createBucketOn(server.options(bucket)),
    verifiesSignatures: false,
    multipartListing: false,
    objectLock: false,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}

function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start: ${output}`)), 15_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on [\d.]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`s3rver exited with ${code}: ${output}`)));
  });
}

/** A real endpoint from FAILSAFE_TEST_S3_* variables, or undefined when they are not all set. */
export function envServer(): S3TestServer | undefined {
  const env = process.env;
  const endpoint = env.FAILSAFE_TEST_S3_ENDPOINT;
  const bucket = env.FAILSAFE_TEST_S3_BUCKET;
  const accessKeyId = env.FAILSAFE_TEST_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.FAILSAFE_TEST_S3_SECRET_ACCESS_KEY;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey) return undefined;
  return {
    // The bucket is given; each run works under a prefix of its own (the caller's `bucket` names it).
    options: (name, extra = {}) => ({
      bucket,
      endpoint,
      region: env.FAILSAFE_TEST_S3_REGION ?? 'us-east-1',
      credentials: { accessKeyId, secretAccessKey },
      ...extra,
      prefix: `failsafe-test/${name}/${extra.prefix ?? ''}`,
    }),
    createBucket: async () => {},
    verifiesSignatures: true,
    multipartListing: true,
    objectLock: false,
    stop: async () => {},
  };
}

/** MinIO in a container when a Docker engine answers; the reason otherwise. */
export async function startMinio(): Promise<S3TestServer | string> {
  let GenericContainer: typeof import('testcontainers').GenericContainer;
  try {
    const testcontainers = await import('testcontainers');
    GenericContainer = testcontainers.GenericContainer;
    await testcontainers.getContainerRuntimeClient();
  } catch (err) {
    return `no Docker engine reachable (${String((err as Error).message ?? err).split('\n')[0]})`;
  }
  const credentials = { accessKeyId: 'failsafe', secretAccessKey: 'failsafe-secret' };
  const container = await new GenericContainer('minio/minio:RELEASE.2025-04-22T22-12-26Z')
    .withCommand(['server', '/data'])
    .withEnvironment({ MINIO_ROOT_USER: credentials.accessKeyId, MINIO_ROOT_PASSWORD: credentials.secretAccessKey })
    .withExposedPorts(9000)
    .start();
  const endpoint = `http://${container.getHost()}:${container.getMappedPort(9000)}`;
  const server: S3TestServer = {
    options: (bucket, extra = {}) => ({ bucket, endpoint, region: 'us-east-1', credentials, ...extra }),
    createBucket: (bucket, options) => createBucketOn(server.options(bucket), options?.objectLock),
    verifiesSignatures: true,
    multipartListing: true,
    objectLock: true,
    stop: async () => void (await container.stop()),
  };
  return server;
}
