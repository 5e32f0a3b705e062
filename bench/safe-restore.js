// npm run bench:restore [-- --size 256MiB]: what each safety of a restore costs. The same snapshot restored into
// a new folder, in place without and with the pre-restore safety snapshot, and by `failsafe drill`.
import { existsSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DATASET_VERSION, generateDataset } from './dataset.js';
import { benchConfig, benchRoot, machine, runCli, sizeOption, treeBytes } from './util.js';

const size = sizeOption('256MiB');
const work = join(benchRoot, 'safe-restore');
const data = join(benchRoot, `data-v${DATASET_VERSION}-${size}`);
if (!existsSync(data)) {
  console.error(`generating ${size} bytes of mixed data in ${data} …`);
  await generateDataset(data, size);
}
await rm(work, { recursive: true, force: true });
const live = join(work, 'live');
await cp(data, live, { recursive: true, verbatimSymlinks: true });
const config = await benchConfig(
  work,
  `  bench:
    sources: [ { type: directory, path: ./live, name: data } ]
    targets: [disk]
`,
);
const run = (label, cliArgs) => ({ step: label, ...runCli(label, cliArgs, config) });

const bytes = await treeBytes(live);
const steps = [run('backup', ['backup'])];
steps.push(run('restore --to (new folder)', ['restore', 'latest', '--to', join(work, 'restored')]));
steps.push(run('restore in place, --no-safety-snapshot', ['restore', 'latest', '--yes', '--no-safety-snapshot', '--no-keep-previous']));
steps.push(run('restore in place (safety snapshot)', ['restore', 'latest', '--yes', '--no-keep-previous']));
steps.push(run('drill', ['drill', '--scratch', work]));
if ((await treeBytes(live)) !== bytes) throw new Error('the live data changed size across in-place restores');
const mb = bytes / 1e6;
const rows = steps.map((s) => ({
  step: s.step,
  seconds: Number(s.seconds.toFixed(2)),
  'MB/s': Number((mb / s.seconds).toFixed(1)),
  'peak RSS MB': Number((s.rss / 1e6).toFixed(1)),
}));
const about = machine();
console.log(`data ${(bytes / 1024 ** 2).toFixed(0)} MiB on ${about.cores} cores (${about.cpu}), Node ${about.node}, load ${about.load.join(' ')}`);
console.table(rows);
console.log(JSON.stringify({ ...about, bytes, results: rows }));
await rm(work, { recursive: true, force: true });
