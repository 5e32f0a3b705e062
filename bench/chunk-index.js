// npm run bench:chunk-index [-- --chunks 3000000]
// The deduplicating repository's in-memory index (core/repository/chunk-index.ts): bytes per chunk as the arrays
// count them and as the process's memory grows, and lookups per second, for an index sized for its chunks (as one
// loaded from the repository is) and for one grown from empty (as during a backup).
import { randomBytes } from 'node:crypto';
import { ChunkIndex } from '../dist/core/repository/chunk-index.js';
import { option } from './util.js';

const chunks = Number(option('chunks', '3000000'));
// Ids are HMAC outputs: random bytes are the same to the index. One buffer, so the ids cost no objects of their own.
const ids = randomBytes(chunks * 32);
const idAt = (n) => ids.subarray(n * 32, n * 32 + 32);
const rows = [];
for (const sized of [true, false]) {
  globalThis.gc?.();
  const before = process.memoryUsage();
  const index = new ChunkIndex(sized ? chunks : 1024);
  const started = performance.now();
  for (let n = 0; n < chunks; n++) index.add(idAt(n), { pack: n >>> 10, offset: n, length: 1 << 20 });
  const adding = (performance.now() - started) / 1000;
  const lookupStart = performance.now();
  let found = 0;
  for (let n = 0; n < chunks; n += 3) if (index.has(idAt(n))) found++;
  const lookups = Math.ceil(chunks / 3) / ((performance.now() - lookupStart) / 1000);
  globalThis.gc?.();
  const after = process.memoryUsage();
  rows.push({
    index: sized ? 'sized for its chunks' : 'grown from empty',
    chunks,
    'arrays MB': +(index.bytes / 1e6).toFixed(1),
    'bytes/chunk': +(index.bytes / chunks).toFixed(1),
    'RSS growth MB': +((after.rss - before.rss) / 1e6).toFixed(1),
    'adds/s (M)': +(chunks / adding / 1e6).toFixed(2),
    'lookups/s (M)': +(lookups / 1e6).toFixed(2),
    found,
  });
}
console.table(rows);
