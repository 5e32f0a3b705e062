// npm run bench:versions [-- --size 1GiB] [-- --generations 10] [-- --tools failsafe,restic,borg] [-- --settle 35]
//                        [-- --restore-to DIR] [-- --out FILE]
// Failsafe (deduplicating repository, format 2), restic and Borg through the generations of a versioned data set
// (bench/generations.js): first backup, unchanged re-run, each generation, restores of the first and the last
// generation checked byte for byte and path for path, and a prune after forgetting generations 1–5.
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATASET_VERSION, generateDataset } from './dataset.js';
import { changeGeneration } from './generations.js';
import { installed } from './peers.js';
import { benchRoot, machine, option, round, settleDisk, sizeOption, timed, treeBytes, treeDigest } from './util.js';
import { versionTools } from './version-tools.js';

const size = sizeOption('1GiB');
const generations = Math.max(1, Number(option('generations', '10')));
const settle = Number(option('settle', '35'));
const names = option('tools', versionTools.map((t) => t.name).join(',')).split(',');
const out = option('out', join(benchRoot, 'versions.json'));
const forgotten = Array.from({ length: Math.min(5, generations - 1) }, (_, i) => i + 1);
if (!existsSync('/usr/bin/time')) {
  console.error('GNU time is needed for peak RSS: apt-get install -y time');
  process.exit(2);
}
const tools = [];
for (const name of names) {
  const tool = versionTools.find((t) => t.name === name);
  if (!tool) {
    console.error(`unknown tool "${name}" (known: ${versionTools.map((t) => t.name).join(', ')})`);
    process.exit(2);
  }
  if (tool.command && !installed(tool.command)) console.error(`skipping ${name}: "${tool.command}" is not installed (apt-get install -y ${tool.apt})`);
  else tools.push(tool);
}

const source = join(benchRoot, `data-v${DATASET_VERSION}-${size}`);
if (!existsSync(source)) {
  console.error(`generating ${size} bytes of mixed data in ${source} …`);
  await generateDataset(source, size);
}
const root = join(benchRoot, 'versions');
const dataName = 'data';
const data = join(root, dataName);
await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
await cp(source, data, { recursive: true });
const restored = join(option('restore-to', root), 'restored');
const loadBefore = machine().load;
const digests = { 0: await treeDigest(data, { paths: true }) };
const changes = [];
const results = new Map(tools.map((t) => [t.name, { steps: [], ids: {}, error: undefined }]));

/** Runs one step of one tool, recording it; a tool that fails is reported and left out of the later steps. */
async function step(tool, name, run) {
  const result = results.get(tool.name);
  if (result.error) return;
  const dir = join(root, tool.name);
  try {
    const before = existsSync(tool.repo(dir)) ? await treeBytes(tool.repo(dir)) : 0;
    const { seconds, cpu, rss, ...extra } = await run(dir);
    // A command's own output stays out of the JSON: the figures taken from it are in `extra`.
    delete extra.stdout;
    const repoBytes = await treeBytes(tool.repo(dir));
    const row = { step: name, seconds: round(seconds, 2), cpuSeconds: round(cpu, 2), peakRssBytes: rss, repoBytes, addedBytes: repoBytes - before, ...extra };
    result.steps.push(row);
    console.error(`${tool.name} ${name}: ${row.seconds} s, peak RSS ${round(rss / 1e6)} MB, repository ${round(repoBytes / 1e6)} MB`);
  } catch (err) {
    result.error = { step: name, message: err.message };
    console.error(`${tool.name} ${name} FAILED: ${err.message}`);
  }
}

async function backupAll(label, generation, turn, tag) {
  // The files caches trust no file changed within the last second (docs/design/dedup.md): older than that, none is read
  // only for being new.
  await sleep(1500);
  // Each generation another tool goes first, so none always reads the changed files from a colder page cache.
  const order = tools.map((_, i) => tools[(i + turn) % tools.length]);
  for (const tool of order) {
    await step(tool, label, async (dir) => {
      const run = await tool.backup({ dir, root, data, dataName, tag });
      results.get(tool.name).ids[generation] ??= run.id;
      return { seconds: run.seconds, cpu: run.cpu, rss: run.rss, id: run.id };
    });
  }
}

/** Restores a generation with each tool into a new folder, then checks every file's bytes and path against it. */
async function restoreAll(generation) {
  for (const tool of tools) {
    await rm(restored, { recursive: true, force: true });
    await settleDisk(settle);
    await step(tool, `restore generation ${generation}`, async (dir) => {
      const id = results.get(tool.name).ids[generation];
      const run = await tool.restore({ dir, id, to: restored });
      const tree = tool.restoredData({ to: restored, data, dataName });
      const identical = existsSync(tree) && (await treeDigest(tree, { paths: true })) === digests[generation];
      if (!identical) console.error(`${tool.name}: the restore of generation ${generation} (${id}) differs from the data of that generation`);
      return { ...run, restoredBytes: existsSync(tree) ? await treeBytes(tree) : 0, identical };
    });
  }
  await rm(restored, { recursive: true, force: true });
}

/** Every file of a repository made two hours older: as if the generations had been backed up over hours. */
async function age(dir) {
  const then = new Date(Date.now() - 2 * 3_600_000);
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name);
    if ((await stat(path)).isFile()) await utimes(path, then, then);
  }
}

async function pruneAll() {
  for (const tool of tools) {
    if (results.get(tool.name).error) continue;
    // Failsafe never sweeps a pack younger than an hour (a backup may be about to name it); here every pack is minutes old.
    await age(tool.repo(join(root, tool.name)));
    await step(tool, `prune (forget ${forgotten.length > 1 ? `generations ${forgotten[0]}–${forgotten.at(-1)}` : 'generation 1'})`, async (dir) => {
      const forget = forgotten.map((g) => results.get(tool.name).ids[g]);
      return tool.prune({ dir, forget });
    });
  }
}

// Every tool reads generation 0 from the page cache, not only those that run after the first.
timed('warm the page cache', 'tar', ['cf', '/dev/null', dataName], { cwd: root });
for (const tool of tools) {
  await mkdir(join(root, tool.name), { recursive: true });
  await tool.setup({ dir: join(root, tool.name), data, keepLast: generations - forgotten.length });
}
await backupAll('first backup', 0, 0, 'generation-0');
await backupAll('unchanged re-run', 'rerun', 1, 'rerun');
for (let gen = 1; gen <= generations; gen++) {
  const change = await changeGeneration(data, gen, size);
  changes.push(change);
  console.error(`generation ${gen}: ${JSON.stringify(change)}`);
  await backupAll(`generation ${gen}`, gen, gen + 1);
}
digests[generations] = await treeDigest(data, { paths: true });
const dataBytes = await treeBytes(data);
await restoreAll(0);
await restoreAll(generations);
if (forgotten.length > 0) await pruneAll();

const about = { ...machine(), load: loadBefore, loadAfter: machine().load, size, generations, dataset: `data-v${DATASET_VERSION}-${size}`, dataBytes };
const json = { ...about, changes, tools: Object.fromEntries(results) };
await writeFile(out, JSON.stringify(json, null, 2));
console.log(markdown(json));
console.log(`\nJSON: ${out}`);
const failed = [...results.values()].some((r) => r.error || r.steps.some((s) => s.identical === false));
process.exitCode = failed ? 1 : 0;

/** One markdown table: a row per step, for each tool its seconds (and CPU seconds), megabytes and peak RSS (docs/performance.md). */
function markdown({ tools: byTool, dataBytes: bytes, load, loadAfter, cores, cpu, node }) {
  const mb = (n) => round(n / 1e6);
  const cell = (name, label, pick) => {
    const row = byTool[name].steps.find((s) => s.step === label);
    return row ? pick(row) : byTool[name].error?.step === label ? 'FAILED' : '';
  };
  const labels = [...new Set(Object.values(byTool).flatMap((t) => t.steps.map((s) => s.step)))];
  const toolNames = Object.keys(byTool);
  const header = ['step', ...toolNames.map((n) => `${n} s (CPU)`), ...toolNames.map((n) => `${n} MB`), ...toolNames.map((n) => `${n} RSS MB`)];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  const rowFor = (label, megabytes) => [
    label,
    ...toolNames.map((n) => cell(n, label, (r) => `${r.seconds} (${r.cpuSeconds})`)),
    ...toolNames.map((n) => cell(n, label, megabytes)),
    ...toolNames.map((n) => cell(n, label, (r) => String(mb(r.peakRssBytes)))),
  ];
  for (const label of labels) {
    if (label.startsWith('restore')) lines.push(rowFor(label, (r) => `${mb(r.restoredBytes)} ${r.identical ? 'identical' : 'DIFFERS'}`));
    else if (label.startsWith('prune')) lines.push(rowFor(label, (r) => `−${mb(-r.addedBytes)}`));
    else lines.push(rowFor(label, (r) => `+${mb(r.addedBytes)}`));
    if (label === `generation ${generations}`) lines.push(repositoryRow(`repository after generation ${generations}`, label));
  }
  lines.push(
    repositoryRow(
      'repository after prune',
      labels.find((l) => l.startsWith('prune')),
    ),
  );
  const errors = toolNames.filter((n) => byTool[n].error).map((n) => `${n} failed at ${byTool[n].error.step}: ${byTool[n].error.message.split('\n')[0]}`);
  const head = `${mb(bytes)} MB in generation ${generations} (--size ${size}), ${cores} cores (${cpu}), Node ${node}, load ${load.join(' ')} before, ${loadAfter.join(' ')} after`;
  return [head, '', ...lines.map((l) => (typeof l === 'string' ? l : `| ${l.join(' | ')} |`)), ...errors].join('\n');

  function repositoryRow(label, after) {
    return [label, ...toolNames.map(() => ''), ...toolNames.map((n) => cell(n, after, (r) => String(mb(r.repoBytes)))), ...toolNames.map(() => '')];
  }
}
