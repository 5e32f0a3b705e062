// npm run bench:stages [-- --size 1GiB] [-- --sample 128MiB]: each pipeline stage alone, single core, in MB/s.
// The sample is every k-th segment of the data set's tar stream, so it keeps the data set's mix.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { createSegmentCodec } from '../dist/core/codec/compression.js';
import { collect } from '../dist/core/pipeline/collect.js';
import { SecretstreamCipher } from '../dist/core/crypto/segment-cipher.js';
import { DirectorySource } from '../dist/plugins/directory/directory.js';
import { DATASET_VERSION, generateDataset } from './dataset.js';
import { benchRoot, machine, option, round, sizeOption } from './util.js';

const SEGMENT = 4 * 1024 * 1024;
const size = sizeOption('1GiB');
const sampleBytes = Number(/^(\d+)MiB$/.exec(option('sample', '128MiB'))?.[1] ?? 128) * 1024 ** 2;
const data = join(benchRoot, `data-v${DATASET_VERSION}-${size}`);
if (!existsSync(data)) {
  console.error(`generating ${size} bytes of mixed data in ${data} …`);
  await generateDataset(data, size);
}

const rows = [];
function measure(stage, variant, bytes, fn, extra = {}) {
  const started = process.hrtime.bigint();
  const result = fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rows.push({ stage, variant, MB: round(bytes / 1e6), 'MB/s': round(bytes / 1e6 / seconds), ...extra });
  return result;
}
async function measureAsync(stage, variant, bytes, fn) {
  const started = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rows.push({ stage, variant, MB: round(bytes / 1e6), 'MB/s': round(bytes / 1e6 / seconds) });
}

// read: every file of the data set, 1 MiB at a time as the directory source reads (from the page cache after the first run).
const files = (await readdir(data, { recursive: true })).map((name) => join(data, name)).sort();
let total = 0;
for (const file of files) if ((await stat(file)).isFile()) total += (await stat(file)).size;
await measureAsync('read', 'files, 1 MiB reads', total, async () => {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  const { open } = await import('node:fs/promises');
  for (const file of files) {
    if (!(await stat(file)).isFile()) continue;
    const handle = await open(file);
    while ((await handle.read(chunk, 0, chunk.length)).bytesRead > 0);
    await handle.close();
  }
});

// tar: the collect stage writing the data set's tar into 4 MiB segments (directory source: local files read in place,
// small ones read ahead), keeping a copy of every k-th segment as the sample; CPU is the whole process's.
const keepEvery = Math.max(1, Math.floor(total / sampleBytes));
const sample = [];
const cpuBefore = process.cpuUsage();
await measureAsync('tar', 'tar writer into segments (collect stage)', total, async () => {
  const collection = collect([new DirectorySource({ path: data }, 'data')], { segmentSize: SEGMENT, context: { warn: () => undefined } });
  for await (const segment of collection.segments) {
    if (segment.index % keepEvery === 0 && segment.data.length === SEGMENT) sample.push(Buffer.from(segment.data));
    collection.recycle(segment.index);
  }
  await collection.done;
});
const cpu = process.cpuUsage(cpuBefore);
rows.at(-1)['CPU s'] = round((cpu.user + cpu.system) / 1e6);
// The same with tar-stream, as collect packed before: a streamx Writable per file, then a copy into the segment.
const tarStreamCpu = process.cpuUsage();
await measureAsync('tar', 'tar-stream pack, then copied into segments (before)', total, async () => {
  const pack = tarPack();
  const consume = (async () => {
    const segment = Buffer.allocUnsafe(SEGMENT);
    let filled = 0;
    for await (const chunk of pack) {
      for (let offset = 0; offset < chunk.length;) {
        const n = Math.min(chunk.length - offset, SEGMENT - filled);
        chunk.copy(segment, filled, offset, offset + n);
        filled = (filled + n) % SEGMENT;
        offset += n;
      }
    }
  })();
  for (const file of files) {
    const info = await stat(file);
    if (!info.isFile()) continue;
    const hash = createHash('sha256');
    const sink = pack.entry({ name: file.slice(data.length + 1), size: info.size, mtime: info.mtime, mode: 0o644 });
    const written = new Promise((resolve, reject) => sink.on('finish', resolve).on('error', reject));
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk);
      if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve));
    }
    sink.end();
    await written;
  }
  pack.finalize();
  await consume;
});
const tarStreamUsage = process.cpuUsage(tarStreamCpu);
rows.at(-1)['CPU s'] = round((tarStreamUsage.user + tarStreamUsage.system) / 1e6);
const sampleTotal = sample.reduce((sum, s) => sum + s.length, 0);
const ratio = (outputs) => ({ 'stored %': round((100 * outputs.reduce((sum, b) => sum + b.length, 0)) / sampleTotal) });

// compress and decompress: one segment at a time on this thread with the pipeline's sync codecs, as one worker does.
const codecs = [
  ...[1, 3].map((level) => ({ name: `zstd ${level}`, codec: createSegmentCodec('zstd', level) })),
  ...[1, 6, 9].map((level) => ({ name: `gzip ${level}`, codec: createSegmentCodec('gzip', level) })),
  ...[1, 3, 4, 5, 6].map((quality) => ({ name: `brotli ${quality}`, codec: createSegmentCodec('brotli', quality) })),
].map(({ name, codec }) => ({ name, compress: (b) => codec.compress(b), decompress: (b, size) => codec.decompress(b, size) }));
// Incompressible and compressible segments apart too: a codec may be fast on one and slow on the other.
const probe = (s) => zlib.deflateRawSync(s.subarray(s.length >> 1, (s.length >> 1) + 65536), { level: 1 }).length / Math.min(65536, s.length - (s.length >> 1));
const kinds = { random: sample.filter((s) => probe(s) > 0.95), compressible: sample.filter((s) => probe(s) <= 0.95) };
for (const codec of codecs) {
  const compressed = measure('compress', codec.name, sampleTotal, () => sample.map((s) => codec.compress(s)));
  Object.assign(rows.at(-1), ratio(compressed));
  for (const [kind, segments] of Object.entries(kinds)) {
    const bytes = segments.reduce((sum, s) => sum + s.length, 0);
    if (bytes === 0) continue;
    const out = measure('compress', `${codec.name}, ${kind} segments only`, bytes, () => segments.map((s) => codec.compress(s)));
    rows.at(-1)['stored %'] = round((100 * out.reduce((sum, b) => sum + b.length, 0)) / bytes);
  }
  measure('decompress', codec.name, sampleTotal, () => compressed.forEach((c, i) => codec.decompress(c, sample[i].length)));
}
// The probe that spots incompressible segments: gzip level 1 of a 64 KiB slice from the middle.
measure('compress', 'probe: gzip 1 of 64 KiB per segment', sampleTotal, () =>
  sample.forEach((s) => zlib.deflateRawSync(s.subarray(s.length >> 1, (s.length >> 1) + 65536), { level: 1 })),
);

// encrypt, decrypt: the segment cipher (libsodium's secretstream format, sealed by OpenSSL).
const cipher = new SecretstreamCipher(randomBytes(32));
const sealed = measure('encrypt', 'secretstream xchacha20poly1305', sampleTotal, () => sample.map((s, i) => cipher.encrypt(s, `bench/${i}`)));
measure('decrypt', 'secretstream xchacha20poly1305', sampleTotal, () => sealed.forEach((s, i) => cipher.decrypt(s, `bench/${i}`)));

// hash: SHA-256, as the manifest records for files and segments.
measure('hash', 'SHA-256', sampleTotal, () => sample.forEach((s) => createHash('sha256').update(s).digest()));

// write: one object per segment into a folder (page cache, as the local target writes before its rename).
const out = join(benchRoot, 'stages-write');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await measureAsync('write', 'one file per 4 MiB segment', sampleTotal, async () => {
  for (let i = 0; i < sealed.length; i++) await writeFile(join(out, String(i)), sealed[i]);
});
await rm(out, { recursive: true, force: true });

const about = machine();
console.log(
  `sample ${round(sampleTotal / 1024 ** 2, 0)} MiB of the ${round(total / 1024 ** 2, 0)} MiB data set, one core, ${about.cores} cores (${about.cpu}), Node ${about.node}, load ${about.load.join(' ')}`,
);
console.table(rows);
console.log(JSON.stringify({ ...about, sampleBytes: sampleTotal, results: rows }));
