// A batch job that resumes after a crash: `node examples/checkpoints/batch.js --crash-at 23`,
// then run it again without --crash-at and it continues at item 20 (its last checkpoint).
// Needs `npm run build` first; checkpoints go to examples/checkpoints/state/ (or --state <dir>).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointStore, LocalAdapter, runBatch } from 'failsafe';

const here = dirname(fileURLToPath(import.meta.url));
const crashAt = process.argv.includes('--crash-at') ? Number(process.argv[process.argv.indexOf('--crash-at') + 1]) : -1;
const stateDir = process.argv.includes('--state') ? process.argv[process.argv.indexOf('--state') + 1] : join(here, 'state');
const outDir = join(stateDir, 'thumbnails');
await mkdir(outDir, { recursive: true });

const store = new CheckpointStore(new LocalAdapter({ path: stateDir }), { keep: 10 });
const photos = Array.from({ length: 50 }, (_, i) => `photo-${String(i).padStart(3, '0')}.jpg`);

for (const op of await store.recoverable()) {
  console.log(`found unfinished "${op.operationName}" at ${Math.round(op.progress * 100)}% (${op.state})`);
}

const result = await runBatch({
  store,
  operationId: 'thumbnails',
  operationName: 'Thumbnail generation',
  items: photos,
  everyItems: 10,
  everyMs: 5_000,
  process: async (photo, index) => {
    if (index === crashAt) process.kill(process.pid, 'SIGKILL'); // a real crash: nothing runs after this
    // Idempotent work: writing the same thumbnail twice is harmless.
    await writeFile(join(outDir, `${photo}.thumb`), `thumbnail of ${photo}\n`);
  },
});
console.log(`processed ${result.processed} of ${result.total} photos, starting at ${result.resumedAt}`);
const stats = await store.stats();
console.log(`checkpoints kept: ${stats.checkpoints}, unfinished operations: ${stats.activeOperations}`);
