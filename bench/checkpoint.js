// npm run bench:checkpoint: time of CheckpointStore.save on the local adapter (write, fsync, rename, fsync dir, prune).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, LocalAdapter } from '../dist/api/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 500);
const dir = await mkdtemp(join(tmpdir(), 'failsafe-bench-cp-'));
try {
  const store = new CheckpointStore(new LocalAdapter({ path: dir }), { keep: 10 });
  // A typical record: a few counters and a list of 100 ids (about 3 KB of JSON).
  const data = { processed: 0, total: runs, done: Array.from({ length: 100 }, (_, i) => `item-${i}-${'x'.repeat(16)}`) };
  const times = [];
  for (let i = 0; i < runs; i++) {
    data.processed = i;
    const start = process.hrtime.bigint();
    await store.save({ operationId: 'bench', operationName: 'Benchmark', state: 'running', progress: i / runs, data });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  console.log(JSON.stringify({ runs, medianMs: Number(at(0.5)), p95Ms: Number(at(0.95)), maxMs: Number(times[times.length - 1].toFixed(2)) }));
  if (Number(at(0.5)) >= 10) {
    console.error(`median ${at(0.5)} ms is over the 10 ms target`);
    process.exitCode = 1;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
