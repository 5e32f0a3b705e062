// npm run bench:compare [-- --size 1GiB] [-- --tools failsafe,restic,borg-zlib,borg-lz4,tar] [-- --rounds 1] [-- --settle 35] [-- --restore-to DIR]
// Failsafe beside restic, Borg and tar on one data set: first backup, restore, unchanged second backup.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePeers, peers } from './peers.js';
import { benchRoot, machine, option, round, settleDisk, sizeOption, timed, treeBytes, treeDigest } from './util.js';
import { DATASET_VERSION, generateDataset } from './dataset.js';

const size = sizeOption('1GiB');
const names = option('tools', peers.map((p) => p.name).join(',')).split(',');
const rounds = Math.max(1, Number(option('rounds', '1')));
const settle = Number(option('settle', '35'));
const restoreTo = option('restore-to', '');
const chosen = names.map((name) => {
  const peer = peers.find((p) => p.name === name);
  if (!peer) {
    console.error(`unknown tool "${name}" (known: ${peers.map((p) => p.name).join(', ')})`);
    process.exit(2);
  }
  return peer;
});
ensurePeers(chosen);

const dataName = `data-v${DATASET_VERSION}-${size}`;
const data = join(benchRoot, dataName);
if (!existsSync(data)) {
  console.error(`generating ${size} bytes of mixed data in ${data} …`);
  await generateDataset(data, size);
}
const dataBytes = await treeBytes(data);
// Every restore is checked against this, byte for byte, after its time is taken: a fast wrong restore wins nothing.
const dataDigest = await treeDigest(data);
const loadBefore = machine().load;
// Every tool reads the data from the page cache, not only the ones that run after the first.
timed('warm the page cache', 'tar', ['cf', '/dev/null', dataName], { cwd: benchRoot });

const runs = join(benchRoot, 'compare');
await rm(runs, { recursive: true, force: true });
await mkdir(runs, { recursive: true });
// Every tool restores to the same fresh path: how much creating a file costs the kernel depends on where its
// folder sits on the disk (on ext4 without a journal, up to 40x between two folders, measured here).
// --restore-to puts it on another file system, such as a freshly made one.
const context = { root: benchRoot, dataName, data, work: runs, restored: join(restoreTo || runs, 'restored') };
for (const peer of chosen) {
  await mkdir(join(runs, peer.name), { recursive: true });
  await peer.setup({ ...context, dir: join(runs, peer.name) });
}

const mb = dataBytes / 1e6;
const results = [];
async function step(peer, stepName, fn) {
  const dir = join(runs, peer.name);
  const before = existsSync(join(dir, 'repo')) ? await treeBytes(join(dir, 'repo')) : 0;
  if (stepName === 'restore') {
    // Every tool restores into a folder that does not exist yet (an earlier, interrupted run may have left one).
    await rm(context.restored, { recursive: true, force: true });
    await settleDisk(settle);
  }
  const { seconds, rss, cpu } = await fn({ ...context, dir });
  const row = {
    tool: peer.label,
    step: stepName,
    seconds: round(seconds, 2),
    'MB/s': round(mb / seconds),
    'CPU s': round(cpu, 2),
    'peak RSS MB': round(rss / 1e6),
  };
  if (stepName !== 'restore') row['stored MB'] = round(((await treeBytes(join(dir, 'repo'))) - before) / 1e6);
  else {
    // Failsafe flushes what it restored before it returns; a tool that does not leaves it for the next sync.
    const syncStarted = process.hrtime.bigint();
    spawnSync('sync');
    row['then sync s'] = round(Number(process.hrtime.bigint() - syncStarted) / 1e9, 2);
    const restored = await treeBytes(context.restored);
    if (restored !== dataBytes) throw new Error(`${peer.label} restored ${restored} bytes, the data set has ${dataBytes}`);
    if ((await treeDigest(context.restored)) !== dataDigest) throw new Error(`${peer.label} restored ${restored} bytes, but not the data set's`);
    await rm(context.restored, { recursive: true, force: true });
  }
  results.push(row);
  console.error(
    `${peer.label} ${stepName}: ${row.seconds} s, ${row['MB/s']} MB/s, peak RSS ${row['peak RSS MB']} MB${row['stored MB'] === undefined ? '' : `, stored ${row['stored MB']} MB`}`,
  );
}
for (const peer of chosen) await step(peer, 'backup', peer.backup);
// Rounds alternate the order, so no tool always restores right after another tool's restore was deleted.
for (let pass = 0; pass < rounds; pass++) {
  for (const peer of pass % 2 === 0 ? chosen : [...chosen].reverse()) await step(peer, 'restore', peer.restore);
}
for (const peer of chosen) await step(peer, 'second backup', peer.backup);

const about = { ...machine(), load: loadBefore, dataBytes, dataset: dataName };
console.log(
  `data ${round(dataBytes / 1024 ** 2, 0)} MiB on ${about.cores} cores (${about.cpu}), Node ${about.node}, load ${about.load.join(' ')} before, ${machine().load.join(' ')} after`,
);
console.table(results);
console.log(JSON.stringify({ ...about, loadAfter: machine().load, results }));
await writeFile(join(benchRoot, 'compare.json'), JSON.stringify({ ...about, loadAfter: machine().load, results }, null, 2));
