// npm run bench:dedup [-- --size 1GiB] [-- --restic]
// The deduplicating engine (core/dedup, format v2; library level, main thread, not yet in the CLI) through
// generations of the bench:compare data set: first backup, unchanged re-run (files cache), a generation with about
// 2% changed, and a restore of it, checked against the data; with --restic, restic 0.14 beside it on the same steps.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalAdapter } from '../dist/adapters/local/local.js';
import { DirectorySource } from '../dist/plugins/directory/directory.js';
import { createSegmentCodec } from '../dist/core/codec/compression.js';
import { KeyRing } from '../dist/core/crypto/keys.js';
import { backupDeduplicated } from '../dist/core/dedup/backup.js';
import { restoreDeduplicated } from '../dist/core/dedup/restore.js';
import { Storage } from '../dist/core/repository/storage.js';
import { DATASET_VERSION, generateDataset } from './dataset.js';
import { benchRoot, sizeOption, treeBytes, treeDigest } from './util.js';

const size = sizeOption('1GiB');
const withRestic = process.argv.includes('--restic');
const source = join(benchRoot, `data-v${DATASET_VERSION}-${size}`);
if (!existsSync(source)) await generateDataset(source, size);
const work = join(benchRoot, 'dedup');
await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
const data = join(work, 'data');
await cp(source, data, { recursive: true });
// A file's ctime cannot be set back: the copy ages past the files cache's one-second rule.
await new Promise((done) => setTimeout(done, 1500));

const codec = createSegmentCodec('zstd', 1);
const keyRing = await KeyRing.create({ keyFileKey: Buffer.alloc(32, 7) });
const storage = new Storage(new LocalAdapter({ path: join(work, 'repo') }), 'disk');
const resticEnv = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: join(work, 'restic'), RESTIC_CACHE_DIR: join(work, 'restic-cache') };
if (withRestic) spawnSync('restic', ['init'], { env: resticEnv, stdio: 'ignore' });
const rows = [];
const mb = (bytes) => +(bytes / 1e6).toFixed(1);

async function step(name, run) {
  const started = performance.now();
  const result = await run();
  rows.push({
    tool: 'failsafe v2',
    step: name,
    seconds: +((performance.now() - started) / 1000).toFixed(2),
    'repository MB': mb(await treeBytes(join(work, 'repo'))),
    ...result,
  });
}
let resticBytes = 0;
async function resticStep(name, args) {
  if (!withRestic) return;
  const started = performance.now();
  const run = spawnSync('restic', args, { env: resticEnv, cwd: work, stdio: 'ignore' });
  if (run.status !== 0) throw new Error(`restic ${args.join(' ')} failed`);
  const seconds = +((performance.now() - started) / 1000).toFixed(2);
  const bytes = await treeBytes(join(work, 'restic'));
  rows.push({ tool: 'restic', step: name, seconds, 'repository MB': mb(bytes), 'added MB': mb(bytes - resticBytes) });
  resticBytes = bytes;
}
const backup = () =>
  backupDeduplicated({ job: 'bench', sources: [new DirectorySource({ path: data }, 'data')], storage, keyRing, codec, cacheDir: join(work, 'cache') }).then(
    ({ stats, cache }) => ({ 'new chunks': stats.newChunks, 'added MB': mb(stats.storedBytes), 'files read': cache.misses }),
  );

await step('first backup', backup);
await resticStep('first backup', ['backup', '--quiet', 'data']);
await step('unchanged re-run', backup);
await resticStep('unchanged re-run', ['backup', '--quiet', 'data']);
await changeAbout2Percent(data);
await new Promise((done) => setTimeout(done, 1500));
await step('changed generation', backup);
await resticStep('changed generation', ['backup', '--quiet', 'data']);
const id = await latestId();
await step('restore', async () => {
  const to = join(work, 'restored');
  await restoreDeduplicated({
    storage,
    keyRing,
    job: 'bench',
    id,
    plugins: new Map([['data', new DirectorySource({ path: data }, 'data')]]),
    destination: () => to,
  });
  const same = (await treeDigest(to)) === (await treeDigest(data));
  if (!same) throw new Error('the restore differs from the data');
  return { 'bit-identical': same };
});
await resticStep('restore', ['restore', 'latest', '--target', join(work, 'restic-restored')]);
console.table(rows);
console.log(JSON.stringify({ size, rows, rss: mb(process.memoryUsage().rss) }));

async function latestId() {
  return (await readdir(join(work, 'repo', 'snapshots', 'bench'))).sort().at(-1);
}

/** About 2% of the data: 1 MiB rewritten in the middle of a large file, logs appended, files added, deleted, renamed. */
async function changeAbout2Percent(root) {
  const blob = join(root, 'binary', 'blob-0.bin');
  const bytes = await readFile(blob);
  bytes.fill(0x5a, bytes.length >> 1, (bytes.length >> 1) + (1 << 20));
  await writeFile(blob, bytes);
  for (let i = 0; i < 200; i++) await appendFile(join(root, 'small', `d${i % 40}`, `note-${i}.txt`), `appended line ${i}\n`.repeat(50));
  await mkdir(join(root, 'added'), { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(join(root, 'added', `new-${i}.bin`), Buffer.alloc(size / 1000, i));
  for (let i = 0; i < 50; i++) await rm(join(root, 'small', `d${(i + 7) % 40}`, `note-${i + 1000}.txt`), { force: true });
  await rename(join(root, 'binary', 'blob-1.bin'), join(root, 'binary', 'blob-1-renamed.bin'));
}
