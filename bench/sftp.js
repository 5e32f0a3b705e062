// npm run bench:sftp [-- --size 512MiB]: SFTP adapter throughput to a local OpenSSH server (started like the tests'),
// for ssh2-sftp-client's plain stream put (the baseline), a stream put, a stream get, a ranged get and 4 MiB buffer puts four at a time (what a backup sends), with peak RSS.
// Each step runs in its own child process, so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startSshd } from '../test/helpers/sshd.js';
import { machine, option, round, sizeOption } from './util.js';

const MiB = 1024 * 1024;
const step = option('step', undefined);

if (step === undefined) {
  const size = sizeOption('512MiB');
  const sshd = await startSshd();
  const options = {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    path: join(sshd.dir, 'store'),
    hostKey: sshd.fingerprint,
    privateKey: sshd.clientKey,
  };
  const rows = [];
  try {
    for (const name of ['baseline-put-stream', 'put-stream', 'get-stream', 'get-range', 'put-segments', 'get-segments']) {
      const child = spawnSync(process.execPath, [import.meta.filename, '--step', name, '--size', `${size / MiB}MiB`, '--options', JSON.stringify(options)], {
        encoding: 'utf8',
      });
      if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`);
      rows.push(JSON.parse(child.stdout));
    }
  } finally {
    await sshd.stop();
    await rm(options.path, { recursive: true, force: true });
  }
  console.log(JSON.stringify(machine()));
  console.table(rows);
} else {
  const { SftpAdapter } = await import('../dist/adapters/sftp/sftp.js');
  const { Storage } = await import('../dist/core/repository/storage.js');
  const size = sizeOption('512MiB');
  const storage = new Storage(new SftpAdapter(JSON.parse(option('options', '{}'))), 'bench');
  const block = randomBytes(MiB);
  /** `size` bytes in 1 MiB chunks, each one different. */
  const body = () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < size / MiB; i++) {
          const chunk = Buffer.from(block);
          chunk.writeUInt32BE(i, 0);
          yield chunk;
        }
      })(),
    );
  const drain = async (stream) => {
    let bytes = 0;
    const hash = createHash('sha256');
    for await (const chunk of stream) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return bytes;
  };
  const started = process.hrtime.bigint();
  let bytes = 0;
  if (step === 'baseline-put-stream') {
    // What the adapter replaces: ssh2-sftp-client's put of a stream, one write awaited after the other.
    const { default: SftpClient } = await import('ssh2-sftp-client');
    const { readFileSync } = await import('node:fs');
    const { mkdir } = await import('node:fs/promises');
    const options = JSON.parse(option('options', '{}'));
    await mkdir(options.path, { recursive: true });
    const client = new SftpClient();
    await client.connect({ ...options, privateKey: readFileSync(options.privateKey) });
    await client.put(body(), join(options.path, 'baseline'));
    await client.end();
    bytes = size;
  } else if (step === 'put-stream') bytes = (await storage.put('large', body())).size;
  else if (step === 'get-stream') bytes = await drain(await storage.get('large'));
  else if (step === 'get-range') bytes = await drain(await storage.get('large', { range: { start: size / 4, end: (3 * size) / 4 - 1 } }));
  else {
    // Segments as the backup pipeline stores them: 4 MiB buffers, four in flight.
    const count = size / (4 * MiB);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < count; i = next++) {
        const key = `segments/${String(i).padStart(6, '0')}`;
        if (step === 'put-segments') {
          const segment = Buffer.concat([block, block, block, block]);
          segment.writeUInt32BE(i, 0);
          const { size: stored } = await storage.put(key, segment);
          bytes += stored;
        } else {
          const data = await storage.getBuffer(key);
          bytes += data.length;
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await storage.close();
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(
    JSON.stringify({ step, MiB: round(bytes / MiB), seconds: round(seconds, 2), 'MB/s': round(bytes / 1e6 / seconds), 'peak RSS MB': round(rss / 1e6) }),
  );
}
