/**
 * OpenStack Swift with its s3api middleware, from Debian's packages
 * (swift-proxy, swift-account, swift-container, swift-object; .ci/run
 * installs them): a real S3 API that s3rver is not. It verifies v4
 * signatures and the region in them, and implements ListMultipartUploads,
 * ListParts and AbortMultipartUpload; it has no Object Lock (the header is
 * ignored). Four server processes (proxy, account, container, object) on
 * free loopback ports, one-replica rings and a temp folder, stopped by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBucketOn, type S3TestServer } from './s3-server.js';

const BIN = '/usr/bin';
const RINGS = ['account', 'container', 'object'] as const;
// tempauth's user "failsafe" of account "failsafe": S3 access key "failsafe:failsafe".
const credentials = { accessKeyId: 'failsafe:failsafe', secretAccessKey: 'failsafe-secret' };

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true)).once('error', () => done(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function serverConf(directory: string, kind: string, port: number): string {
  return `[DEFAULT]
devices = ${join(directory, 'node')}
mount_check = false
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
swift_dir = ${directory}
[pipeline:main]
pipeline = ${kind}-server
[app:${kind}-server]
use = egg:swift#${kind}
`;
}

// tempauth wants a memcache client; port 9 has no memcached, so every lookup misses (and is only logged).
function proxyConf(directory: string, port: number): string {
  const filters = ['catch_errors', 'gatekeeper', 'listing_formats', 'copy', 'slo', 'dlo'];
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
swift_dir = ${directory}
[pipeline:main]
pipeline = catch_errors gatekeeper cache listing_formats s3api tempauth copy slo dlo proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:9
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_failsafe_failsafe = ${credentials.secretAccessKey} .admin
${filters.map((f) => `[filter:${f}]\nuse = egg:swift#${f}\n`).join('')}`;
}

function ringBuilder(directory: string, kind: string, port: number): void {
  const builder = join(directory, `${kind}.builder`);
  for (const args of [
    ['create', '4', '1', '1'],
    ['add', '--region', '1', '--zone', '1', '--ip', '127.0.0.1', '--port', String(port), '--device', 'd1', '--weight', '1'],
    ['rebalance'],
  ]) {
    const run = spawnSync(join(BIN, 'swift-ring-builder'), [builder, ...args], { encoding: 'utf8' });
    // rebalance exits 1 with a warning on a one-device ring; the ring file is what counts.
    if (run.status !== 0 && !(args[0] === 'rebalance' && existsSync(join(directory, `${kind}.ring.gz`)))) {
      throw new Error(`swift-ring-builder ${args[0]} failed: ${run.stderr || run.stdout}`);
    }
  }
}

/** Swift's S3 API, or the reason it cannot run here. */
export async function startSwiftS3(): Promise<S3TestServer | string> {
  if (!existsSync(join(BIN, 'swift-proxy-server'))) {
    const missing = 'Swift is not installed (apt-get install swift-proxy swift-account swift-container swift-object)';
    // CI installs it (.ci/run): there a missing Swift is a broken install step, not a reason to skip.
    if (process.env.CI) throw new Error(missing);
    return missing;
  }
  const directory = await mkdtemp(join(tmpdir(), 'failsafe-swift-'));
  await mkdir(join(directory, 'node', 'd1'), { recursive: true });
  const ports = { proxy: await freePort(), account: await freePort(), container: await freePort(), object: await freePort() };
  for (const kind of RINGS) {
    ringBuilder(directory, kind, ports[kind]);
    await writeFile(join(directory, `${kind}-server.conf`), serverConf(directory, kind, ports[kind]));
  }
  await writeFile(join(directory, 'proxy-server.conf'), proxyConf(directory, ports.proxy));
  const children: ChildProcess[] = [];
  let output = '';
  for (const kind of [...RINGS, 'proxy'] as const) {
    const child = spawn(join(BIN, `swift-${kind}-server`), [join(directory, `${kind}-server.conf`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    children.push(child);
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await rm(directory, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${ports.proxy}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await Promise.all(Object.values(ports).map(accepts))).every(Boolean)) break;
    const dead = children.find((c) => c.exitCode !== null);
    if (dead || Date.now() > deadline) {
      await stop();
      throw new Error(`Swift did not start: ${dead ? `a server exited with ${dead.exitCode}` : 'timed out'}: ${output}`);
    }
    await sleep(100);
  }
  const server: S3TestServer = {
    options: (bucket, extra = {}) => ({ bucket, endpoint, region: 'us-east-1', credentials, ...extra }),
    createBucket: (bucket) => createBucketOn(server.options(bucket)),
    verifiesSignatures: true,
    multipartListing: true,
    objectLock: false,
    stop,
  };
  return server;
}
