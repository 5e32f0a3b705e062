// npm run bench:sqlite [-- --size 1GiB]: how long a consistent snapshot of a
// large live SQLite database takes with each method while a writer process
// commits, how long that writer waited at most, and the backup and restore
// throughput of the whole job.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteSource } from '../dist/plugins/sqlite/sqlite.js';
import { benchConfig, machine, rounded, runCli, sizeOption, treeBytes } from './util.js';

const here = dirname(fileURLToPath(import.meta.url));
const size = sizeOption('1GiB');
const work = join(tmpdir(), 'failsafe-bench-sqlite');
const db = join(work, `app-${size}.db`);

/** Rows of 4 KiB: half random (photos, tokens), half repetitive text (JSON, logs). */
function generate(file, bytes) {
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.exec('create table documents (id integer primary key, kind text not null, body blob not null)');
  const insert = database.prepare('insert into documents (kind, body) values (?, ?)');
  const text = Buffer.from('{"event":"order.created","customer":12345,"items":[{"sku":"A-1","qty":2}],"note":"' + 'x'.repeat(3900) + '"}');
  const rows = Math.ceil(bytes / 4096);
  const batch = database.transaction((from, to) => {
    for (let i = from; i < to; i++) insert.run(i % 2 ? 'blob' : 'json', i % 2 ? randomBlock() : text);
  });
  for (let from = 0; from < rows; from += 10_000) batch(from, Math.min(rows, from + 10_000));
  database.pragma('wal_checkpoint(TRUNCATE)');
  database.close();
}

let seed = 1;
function randomBlock() {
  const out = Buffer.allocUnsafe(4000);
  for (let i = 0; i < out.length; i += 4) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    out.writeUInt32LE(seed, i);
  }
  return out;
}

async function startWriter() {
  const child = spawn(process.execPath, [join(here, 'sqlite-writer.js'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', () => out.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
  });
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    return JSON.parse(out.slice(out.indexOf('{')));
  };
}

async function snapshotUnderWriter(method) {
  const stopWriter = await startWriter();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const source = new SqliteSource({ path: db, method, check: 'quick', tempDir: work });
  const started = performance.now();
  await source.prepare({ warn: () => undefined });
  const seconds = (performance.now() - started) / 1000;
  const facts = source.describe();
  await source.cleanup();
  const writer = await stopWriter();
  return {
    step: `snapshot (${method}) + quick_check`,
    seconds,
    'MB/s': size / 1e6 / seconds,
    'writer commits/s': writer.commitsPerSecond,
    'longest commit ms': writer.longestCommitMs,
    pages: facts.pageCount,
  };
}

await mkdir(work, { recursive: true });
if (!existsSync(db)) {
  console.error(`generating a ${size}-byte database in ${db} …`);
  generate(db, size);
}
const dbBytes = (await stat(db)).size;
const rows = [];
// The control: the same writer with nothing else touching the database, for the machine's own commit latency.
const idleWriter = await startWriter();
await new Promise((resolve) => setTimeout(resolve, 5000));
const idle = await idleWriter();
rows.push({ step: 'writer alone, 5 s (control)', 'writer commits/s': idle.commitsPerSecond, 'longest commit ms': idle.longestCommitMs });
for (const method of ['backup-api', 'vacuum-into']) rows.push(await snapshotUnderWriter(method));

await rm(join(work, 'target'), { recursive: true, force: true });
await rm(join(work, 'restored'), { recursive: true, force: true });
const config = await benchConfig(
  work,
  `  db:
    sources: [ { type: sqlite, path: ${db}, name: app, check: quick, tempDir: ${work} } ]
    targets: [disk]
`,
);
const stopWriter = await startWriter();
const backup = runCli('backup', ['backup'], config);
const writer = await stopWriter();
rows.push({
  step: 'failsafe backup (live writer)',
  seconds: backup.seconds,
  'MB/s': dbBytes / 1e6 / backup.seconds,
  'writer commits/s': writer.commitsPerSecond,
  'longest commit ms': writer.longestCommitMs,
  'peak RSS MB': backup.rss / 1e6,
});
const restore = runCli('restore', ['restore', 'latest', '--to', join(work, 'restored')], config);
rows.push({ step: 'failsafe restore (+ check)', seconds: restore.seconds, 'MB/s': dbBytes / 1e6 / restore.seconds, 'peak RSS MB': restore.rss / 1e6 });

const stored = await treeBytes(join(work, 'target'));
const about = machine();
console.log(`database ${(dbBytes / 1e6).toFixed(0)} MB on ${about.cores} cores (${about.cpu}), Node ${about.node}, load ${about.load.join(' ')}`);
console.log(`stored ${(stored / 1e6).toFixed(1)} MB (${((100 * stored) / dbBytes).toFixed(1)}% of the database)`);
console.table(rows.map(rounded));
console.log(JSON.stringify({ ...about, databaseBytes: dbBytes, storedBytes: stored, results: rows.map(rounded) }));
