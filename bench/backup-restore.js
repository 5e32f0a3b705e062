// npm run bench [-- --size 1GiB]: backup and restore throughput and peak RSS of Failsafe on a mixed data set.
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DATASET_VERSION, generateDataset } from './dataset.js';
import { benchRoot, machine, runCli, sizeOption, treeBytes } from './util.js';

const size = sizeOption('512MiB');
const work = benchRoot;
const data = join(work, `data-v${DATASET_VERSION}-${size}`);

if (!existsSync(data)) {
  console.error(`generating ${size} bytes of mixed data in ${data} …`);
  await generateDataset(data, size);
}
await rm(join(work, 'target'), { recursive: true, force: true });
await rm(join(work, 'restored'), { recursive: true, force: true });
await writeFile(join(work, 'bench.key'), Buffer.alloc(32, 7).toString('base64'));
const config = join(work, 'failsafe.yaml');
const compression = process.env.BENCH_ALGORITHM
  ? `compression: { algorithm: ${process.env.BENCH_ALGORITHM}${process.env.BENCH_LEVEL ? `, level: ${process.env.BENCH_LEVEL}` : ''} }`
  : '';
await writeFile(
  config,
  `version: 1
targets: { disk: { type: local, path: ./target } }
encryption: { keyFile: ./bench.key }
${compression}
${process.env.BENCH_SEGMENT ? `segmentSize: ${process.env.BENCH_SEGMENT}` : ''}
jobs:
  bench:
    sources: [ { type: directory, path: ${data}, name: data } ]
    targets: [disk]
`,
);
await mkdir(join(work, 'restored'), { recursive: true });

const dataBytes = await treeBytes(data);
const backup = runCli('backup', ['backup'], config);
const storedBytes = await treeBytes(join(work, 'target'));
const restore = runCli('restore', ['restore', 'latest', '--to', join(work, 'restored')], config);
const restoredBytes = await treeBytes(join(work, 'restored', 'data'));
if (restoredBytes !== dataBytes) throw new Error(`restored ${restoredBytes} bytes, the data set has ${dataBytes}`);
const mb = dataBytes / 1e6;
const rows = [
  { step: 'backup', seconds: backup.seconds, 'MB/s': mb / backup.seconds, 'peak RSS MB': backup.rss / 1e6 },
  { step: 'restore', seconds: restore.seconds, 'MB/s': mb / restore.seconds, 'peak RSS MB': restore.rss / 1e6 },
].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(1)) : v])));
const about = machine();
console.log(`data ${(dataBytes / 1024 ** 2).toFixed(0)} MiB on ${about.cores} cores (${about.cpu}), Node ${about.node}, load ${about.load.join(' ')}`);
console.log(`stored ${(storedBytes / 1e6).toFixed(1)} MB (${((100 * storedBytes) / dataBytes).toFixed(1)}% of the data)`);
console.table(rows);
console.log(JSON.stringify({ ...about, bytes: dataBytes, storedBytes, results: rows }));
