// npm run bench:s3 [-- --size 1GiB]: upload and download throughput through the S3 adapter to a
// local s3rver process, and the peak RSS of each transfer for several partSize × queueSize.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { benchRoot, machine, sizeOption } from './util.js';

const size = sizeOption('1GiB');
const here = fileURLToPath(new URL('.', import.meta.url));
const MiB = 1024 * 1024;
const settings = [
  { partSize: 8 * MiB, queueSize: 4 },
  { partSize: 8 * MiB, queueSize: 1 },
  { partSize: 32 * MiB, queueSize: 4 },
];

await mkdir(benchRoot, { recursive: true });
const directory = await mkdtemp(join(benchRoot, 's3rver-'));
const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
const server = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', directory, '-a', '127.0.0.1', '-p', '0', '--silent'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /listening on [\d.]+:(\d+)/.exec(out);
    if (match) resolve(Number(match[1]));
  });
  server.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
});
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const endpoint = `http://127.0.0.1:${port}`;
const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...credentials } });

const rows = [];
const idle = spawnSync(process.execPath, [join(here, 's3-transfer.js'), 'idle', JSON.stringify({ bucket: 'idle', endpoint, credentials }), '0'], {
  encoding: 'utf8',
});
const idleRss = JSON.parse(idle.stdout.trim().split('\n').at(-1)).maxRssKiB / 1024;
try {
  for (const [index, { partSize, queueSize }] of settings.entries()) {
    const bucket = `bench-${index}`;
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    const options = JSON.stringify({ bucket, endpoint, credentials, partSize, queueSize });
    const results = {};
    for (const operation of ['upload', 'download']) {
      const run = spawnSync(process.execPath, [join(here, 's3-transfer.js'), operation, options, String(size)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${operation} failed: ${run.stderr}`);
      results[operation] = JSON.parse(run.stdout.trim().split('\n').at(-1));
    }
    if (results.upload.sha256 !== results.download.sha256 || results.download.bytes !== size) throw new Error('the downloaded object differs');
    for (const operation of ['upload', 'download']) {
      const r = results[operation];
      rows.push({
        partSize: `${partSize / MiB} MiB`,
        queueSize,
        operation,
        seconds: r.seconds.toFixed(1),
        'MB/s': (size / 1e6 / r.seconds).toFixed(1),
        'peak RSS MB': (r.maxRssKiB / 1024).toFixed(0),
        'bound MB': operation === 'upload' ? ((partSize * queueSize) / MiB).toFixed(0) : '',
      });
    }
    await rm(join(directory, bucket), { recursive: true, force: true });
  }
} finally {
  admin.destroy();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await rm(directory, { recursive: true, force: true });
}
console.log(`${size / MiB} MiB through the S3 adapter to a local s3rver; machine: ${JSON.stringify(machine())}`);
console.log(`peak RSS of the same process loading the adapter and transferring nothing: ${idleRss.toFixed(0)} MB`);
console.table(rows);
