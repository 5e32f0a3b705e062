// The versioned data set of bench/versions.js: each generation changes about 2% of the bench:compare data set
// (bench/dataset.js) in place, the same way on every run: the choices come from a PRNG seeded with the
// generation's number and the sorted list of files, so every tool backs up the same bytes, run after run.
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logText, randomBytesFrom } from './dataset.js';

const MiB = 1024 ** 2;
/** The share of a generation's budget (beside the 1 MiB rewrite) each kind of change takes. */
const SHARES = { edited: 0.3, appended: 0.25, added: 0.35, deleted: 0.1 };

/** mulberry32: a small, fast PRNG whose sequence is fixed by its seed (Math.random's is not). */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (list) => list[Math.floor(next() * list.length)] };
}

async function filesUnder(root) {
  const names = (await readdir(root, { recursive: true })).map((n) => n.split('\\').join('/')).sort();
  const files = [];
  for (const name of names) {
    const info = await stat(join(root, name));
    if (info.isFile()) files.push({ name, size: info.size });
  }
  return files;
}

/**
 * Changes `root` from generation `gen - 1` to `gen` (1, 2, …) and reports what it did, in bytes:
 * 1 MiB rewritten in the middle of one large file, text inserted in the middle of some files, lines appended
 * to others, new files added, some deleted, and one renamed. `totalBytes` is the data set's size (`--size`):
 * the whole change is about 2% of it (a little more at small sizes, where the 1 MiB rewrite alone is more).
 */
export async function changeGeneration(root, gen, totalBytes) {
  const rng = prng(0x5eed0000 + gen);
  const files = await filesUnder(root);
  const report = { generation: gen, rewritten: 0, edited: 0, appended: 0, added: 0, deleted: 0, renamed: '' };
  const touched = new Set();
  const budget = Math.max(0.02 * totalBytes - MiB, 0.005 * totalBytes);
  touched.add(await rewriteLargest(root, files, gen, report));
  const text = files.filter((f) => /\.(txt|log)$/.test(f.name) && !touched.has(f.name));
  await editMiddles(root, text, budget * SHARES.edited, rng, touched, report);
  await appendTo(root, text, budget * SHARES.appended, rng, touched, report);
  await addFiles(root, gen, budget * SHARES.added, rng, report);
  await deleteFiles(root, files, budget * SHARES.deleted, rng, touched, report);
  const candidates = files.filter((f) => !touched.has(f.name));
  const renamed = rng.pick(candidates);
  const to = `renamed/g${gen}-${renamed.name.split('/').join('-')}`;
  await mkdir(join(root, 'renamed'), { recursive: true });
  await rename(join(root, renamed.name), join(root, to));
  report.renamed = `${renamed.name} -> ${to}`;
  return report;
}

/** 1 MiB of new random bytes over the middle of one of the four largest files, another one each generation. */
async function rewriteLargest(root, files, gen, report) {
  const large = [...files].sort((a, b) => b.size - a.size || a.name.localeCompare(b.name)).slice(0, 4);
  const file = large[gen % large.length];
  const length = Math.min(MiB, file.size >> 1);
  const handle = await open(join(root, file.name), 'r+');
  try {
    await handle.write(randomBytesFrom(`rewrite-${gen}`, length), 0, length, (file.size - length) >> 1);
  } finally {
    await handle.close();
  }
  report.rewritten += length;
  return file.name;
}

/** New log lines inserted at a line boundary near the middle of text files: everything after them shifts. */
async function editMiddles(root, text, budget, rng, touched, report) {
  while (report.edited < budget) {
    const file = rng.pick(text.filter((f) => !touched.has(f.name)));
    if (!file) return;
    touched.add(file.name);
    const bytes = await readFile(join(root, file.name));
    const middle = bytes.indexOf(10, bytes.length >> 1) + 1 || bytes.length;
    const insert = Buffer.from(logText(Math.ceil(Math.min(budget - report.edited, 256 + rng.int(32 * 1024))), 7000 + rng.int(1e6)));
    await writeFile(join(root, file.name), Buffer.concat([bytes.subarray(0, middle), insert, bytes.subarray(middle)]));
    report.edited += insert.length;
  }
}

/** New lines at the end of text files, the logs first (they grow every day). */
async function appendTo(root, text, budget, rng, touched, report) {
  const logs = text.filter((f) => f.name.startsWith('logs/') && !touched.has(f.name));
  const share = logs.length > 0 ? budget / 2 / logs.length : 0;
  for (const file of logs) {
    const lines = logText(Math.ceil(share), 9000 + rng.int(1e6));
    await appendFile(join(root, file.name), lines);
    touched.add(file.name);
    report.appended += lines.length;
  }
  while (report.appended < budget) {
    const file = rng.pick(text.filter((f) => !touched.has(f.name)));
    if (!file) return;
    const lines = logText(Math.ceil(Math.min(budget - report.appended, 512 + rng.int(8 * 1024))), 11000 + rng.int(1e6));
    await appendFile(join(root, file.name), lines);
    touched.add(file.name);
    report.appended += lines.length;
  }
}

/** A folder of new files per generation: one incompressible file and text notes, about half each. */
async function addFiles(root, gen, budget, rng, report) {
  const dir = join(root, 'added', `g${gen}`);
  await mkdir(dir, { recursive: true });
  const binary = Math.floor(budget / 2);
  await writeFile(join(dir, 'upload.bin'), randomBytesFrom(`added-${gen}`, binary));
  report.added += binary;
  for (let i = 0; report.added < budget; i++) {
    const note = logText(Math.ceil(Math.min(budget - report.added, 1024 + rng.int(16 * 1024))), 13000 + rng.int(1e6));
    await writeFile(join(dir, `note-${i}.txt`), note);
    report.added += note.length;
  }
}

/** Small files removed (notes, and files earlier generations added), never the large ones. */
async function deleteFiles(root, files, budget, rng, touched, report) {
  const small = files.filter((f) => f.size <= 1 * MiB && !f.name.startsWith('db/'));
  while (report.deleted < budget) {
    const file = rng.pick(small.filter((f) => !touched.has(f.name)));
    if (!file) return;
    touched.add(file.name);
    await rm(join(root, file.name));
    report.deleted += file.size;
  }
}
