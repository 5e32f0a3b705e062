// npm run bench [-- --size 1GiB]: backup and restore throughput and peak RSS of Failsafe on a mixed data set.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from './dataset.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const sizeArg = args.includes('--size') ? args[args.indexOf('--size') + 1] : '512MiB';
const units = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const match = /^(\d+)(KiB|MiB|GiB)$/.exec(sizeArg ?? '');
if (!match) {
  console.error(`--size takes a size like 512MiB or 2GiB, not "${sizeArg}"`);
  process.exit(2);
}
const size = Number(match[1]) * units[match[2]];
const work = join(tmpdir(), 'failsafe-bench');
const data = join(work, `data-${size}`);

if (!existsSync(data)) {
  console.error(`generating ${size} bytes of mixed data in ${data} …`);
  await generateDataset(data, size);
}
await rm(join(work, 'target'), { recursive: true, force: true });
await rm(join(work, 'restored'), { recursive: true, force: true });
await writeFile(join(work, 'bench.key'), Buffer.alloc(32, 7).toString('base64'));
const config = join(work, 'failsafe.yaml');
await writeFile(
  config,
  `version: 1
targets: { disk: { type: local, path: ./target } }
encryption: { keyFile: ./bench.key }
compression: { algorithm: ${process.env.BENCH_ALGORITHM ?? 'gzip'}, level: ${process.env.BENCH_LEVEL ?? 6} }
${process.env.BENCH_SEGMENT ? `segmentSize: ${process.env.BENCH_SEGMENT}` : ''}
jobs:
  bench:
    sources: [ { type: directory, path: ${data}, name: data } ]
    targets: [disk]
`,
);
await mkdir(join(work, 'restored'), { recursive: true });

function run(label, cliArgs) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [join(here, 'run-cli.js'), ...cliArgs, '-c', config, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${label} failed (${result.status}): ${result.stderr}`);
  const rss = Number(/BENCH maxRssKiB=(\d+)/.exec(result.stderr)?.[1] ?? 0) * 1024;
  return { label, seconds, rss, output: JSON.parse(result.stdout) };
}

async function treeBytes(dir) {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, name));
    if (info.isFile()) total += info.size;
  }
  return total;
}

const backup = run('backup', ['backup']);
const storedBytes = await treeBytes(join(work, 'target'));
const restore = run('restore', ['restore', 'latest', '--to', join(work, 'restored')]);
const restoredBytes = await treeBytes(join(work, 'restored', 'data'));
if (restoredBytes !== (await treeBytes(data))) throw new Error(`restored ${restoredBytes} bytes, the data set has ${await treeBytes(data)}`);
const mb = size / 1e6;
const rows = [
  { step: 'backup', seconds: backup.seconds, 'MB/s': mb / backup.seconds, 'peak RSS MB': backup.rss / 1e6 },
  { step: 'restore', seconds: restore.seconds, 'MB/s': mb / restore.seconds, 'peak RSS MB': restore.rss / 1e6 },
].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(1)) : v])));
console.log(`data ${(size / 1024 ** 2).toFixed(0)} MiB on ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}`);
console.log(`stored ${(storedBytes / 1e6).toFixed(1)} MB (${((100 * storedBytes) / size).toFixed(1)}% of the data)`);
console.table(rows);
console.log(JSON.stringify({ bytes: size, storedBytes, results: rows }));
