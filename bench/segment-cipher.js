// npm run bench:cipher [-- --segments 32]: the segment cipher on one core, in CPU-time MB/s, and what a worker
// thread that loads it costs (the whole process's RSS and CPU time with one such worker, least of 5 runs). Segments are 4 MiB of random bytes plus a tail that picks the final chunk's MAC path
// (+0: OpenSSL's AEAD alone; +1000: Poly1305 apart for the final chunk).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { option, round } from './util.js';

const moduleUrl = new URL('../dist/core/crypto/segment-cipher.js', import.meta.url).href;

if (option('worker-rss')) {
  // A child process: one worker that loads `--worker-rss` (segment-cipher, libsodium or nothing), then its RSS.
  const what = option('worker-rss');
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const load = {
       nothing: async () => {},
       'segment-cipher': async () => {
         const { SecretstreamCipher } = await import(workerData.moduleUrl);
         const cipher = new SecretstreamCipher(Buffer.alloc(32, 1));
         cipher.decrypt(cipher.encrypt(Buffer.alloc(1000), 'c'), 'c');
       },
       libsodium: async () => {
         const sodium = (await import('libsodium-wrappers-sumo')).default;
         await sodium.ready;
         sodium.crypto_core_hchacha20(new Uint8Array(16), new Uint8Array(32), null);
       },
     }[workerData.what];
     load().then(() => parentPort.postMessage('ready'));`,
    { eval: true, workerData: { what, moduleUrl } },
  );
  await once(worker, 'message');
  globalThis.gc?.();
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ rss: process.memoryUsage().rss, cpuMs: (user + system) / 1000 }));
  await worker.terminate();
  process.exit(0);
}

const { SecretstreamCipher } = await import(moduleUrl);
const SEGMENT = 4 * 1024 * 1024;
const count = Number(option('segments', '32'));
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
function rate(bytes, fn) {
  const started = cpuSeconds();
  fn();
  return round(bytes / 1e6 / (cpuSeconds() - started));
}

const rows = [];
const cipher = new SecretstreamCipher(randomBytes(32));
for (const tail of [0, 1000]) {
  const plain = Array.from({ length: count }, () => randomBytes(SEGMENT + tail));
  const bytes = count * (SEGMENT + tail);
  cipher.decrypt(cipher.encrypt(plain[0], 'warm-up'), 'warm-up');
  let sealed;
  const seal = rate(bytes, () => (sealed = plain.map((p, i) => cipher.encrypt(p, `bench/${i}`))));
  const open = rate(bytes, () => sealed.forEach((s, i) => cipher.decrypt(s, `bench/${i}`)));
  // The …Into forms with one reused output buffer, as a worker holding a buffer pool would call them.
  const out = Buffer.allocUnsafe(cipher.sealedSize(SEGMENT + tail));
  const sealInto = rate(bytes, () => plain.forEach((p, i) => cipher.encryptInto(p, `bench/${i}`, out)));
  const openInto = rate(bytes, () => sealed.forEach((s, i) => cipher.decryptInto(s, `bench/${i}`, out)));
  rows.push({ segment: `4 MiB + ${tail}`, 'seal MB/s': seal, 'open MB/s': open, 'sealInto MB/s': sealInto, 'openInto MB/s': openInto });
}
console.table(rows);

// The final chunk alone: 65,535 bytes (≡ 15 mod 16, Poly1305 apart) against 65,536 (OpenSSL's AEAD), per segment.
const finals = [];
for (const size of [65_535, 65_536]) {
  const plain = randomBytes(size);
  const out = Buffer.allocUnsafe(cipher.sealedSize(size));
  const rounds = 2000;
  for (let i = 0; i < 200; i++) cipher.encryptInto(plain, 'c', out);
  const started = cpuSeconds();
  for (let i = 0; i < rounds; i++) cipher.encryptInto(plain, 'c', out);
  const seconds = (cpuSeconds() - started) / rounds;
  finals.push({ 'final chunk bytes': size, 'µs per seal': round(seconds * 1e6), 'MB/s': round(size / 1e6 / seconds) });
}
console.table(finals);

const workers = [];
const script = fileURLToPath(import.meta.url);
for (const what of ['nothing', 'segment-cipher', 'libsodium']) {
  const runs = [1, 2, 3, 4, 5].map(() => JSON.parse(spawnSync(process.execPath, ['--expose-gc', script, '--worker-rss', what], { encoding: 'utf8' }).stdout));
  const rss = Math.min(...runs.map((r) => r.rss));
  workers.push({ 'worker loads': what, 'process RSS MB': round(rss / 1e6), 'process CPU ms': round(Math.min(...runs.map((r) => r.cpuMs))) });
}
for (const row of workers) {
  row['RSS vs nothing MB'] = round(row['process RSS MB'] - workers[0]['process RSS MB']);
  row['CPU vs nothing ms'] = round(row['process CPU ms'] - workers[0]['process CPU ms']);
}
console.table(workers);
