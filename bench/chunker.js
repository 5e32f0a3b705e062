// npm run bench:chunker [-- --size 256MiB]
// The content-defined chunker (core/chunking/fastcdc.ts) and chunk ids alone, on one thread: MB/s and the sizes it
// cuts, on random bytes (no repetition) and on text (the kind of data whose cut points matter most).
import { randomBytes } from 'node:crypto';
import { chunkId } from '../dist/core/chunking/chunk-id.js';
import { DEFAULT_CHUNK_SIZES, FastCdc } from '../dist/core/chunking/fastcdc.js';
import { gearTable } from '../dist/core/chunking/gear.js';
import { sizeOption } from './util.js';

const size = sizeOption('256MiB');
const key = randomBytes(32);
const sets = {
  random: randomBytes(size),
  text: Buffer.from(
    Array.from({ length: Math.ceil(size / 64) }, (_, i) => `${new Date(1.7e12 + i * 997).toISOString()} GET /item/${(i * 7919) % 100_003} 200\n`).join(''),
  ).subarray(0, size),
};
const rows = [];
for (const [name, data] of Object.entries(sets)) {
  for (let round = 0; round < 3; round++) {
    const cdc = new FastCdc(gearTable(key), DEFAULT_CHUNK_SIZES);
    const lengths = [];
    const started = performance.now();
    for (let at = 0; at < data.length; at += 4 << 20) lengths.push(...cdc.push(data.subarray(at, at + (4 << 20))));
    const last = cdc.finish();
    if (last > 0) lengths.push(last);
    const chunking = (performance.now() - started) / 1000;
    const hashStart = performance.now();
    let at = 0;
    for (const length of lengths) {
      chunkId(key, data.subarray(at, at + length));
      at += length;
    }
    const hashing = (performance.now() - hashStart) / 1000;
    rows.push({
      data: name,
      round,
      'chunking MB/s': Math.round(data.length / 1e6 / chunking),
      'chunk ids MB/s': Math.round(data.length / 1e6 / hashing),
      chunks: lengths.length,
      'mean KiB': Math.round(data.length / lengths.length / 1024),
      'min KiB': Math.round(Math.min(...lengths.slice(0, -1)) / 1024),
      'max KiB': Math.round(Math.max(...lengths) / 1024),
    });
  }
}
console.table(rows);

// What an edit costs: chunk bytes to store again after 1 MiB overwritten (random, or one byte value) or 100 bytes
// inserted in the middle of 48 MiB of random data, averaged over six repository keys (docs/design/dedup.md).
const base = randomBytes(48 << 20);
const middle = 24 << 20;
const edits = {
  '1 MiB overwritten': Buffer.concat([base.subarray(0, middle), randomBytes(1 << 20), base.subarray(middle + (1 << 20))]),
  '1 MiB of one byte value': Buffer.concat([base.subarray(0, middle), Buffer.alloc(1 << 20, 0x5a), base.subarray(middle + (1 << 20))]),
  '100 bytes inserted': Buffer.concat([base.subarray(0, middle), randomBytes(100), base.subarray(middle)]),
};
function pieces(data, gearKey) {
  const cdc = new FastCdc(gearTable(gearKey), DEFAULT_CHUNK_SIZES);
  const lengths = [];
  for (let at = 0; at < data.length; at += 4 << 20) lengths.push(...cdc.push(data.subarray(at, at + (4 << 20))));
  const last = cdc.finish();
  if (last > 0) lengths.push(last);
  const out = [];
  let at = 0;
  for (const length of lengths) {
    out.push({ id: chunkId(gearKey, data.subarray(at, at + length)).toString('hex'), length });
    at += length;
  }
  return out;
}
const costs = [];
for (const [edit, data] of Object.entries(edits)) {
  let added = 0;
  for (let k = 0; k < 6; k++) {
    const key = Buffer.alloc(32, k + 1);
    const before = new Set(pieces(base, key).map((p) => p.id));
    for (const p of pieces(data, key)) if (!before.has(p.id)) added += p.length;
  }
  costs.push({ edit, 'MiB to store again (mean of 6 keys)': +(added / 6 / 1048576).toFixed(2) });
}
console.table(costs);
