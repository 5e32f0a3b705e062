// The benchmark's live writer: commits one small row per transaction into a
// WAL database as fast as it can and, on SIGTERM, prints how many commits it
// made and the longest wait for one, so a benchmark can show how long a
// snapshot held the writer up. Usage: node sqlite-writer.js DB
import Database from 'better-sqlite3';

const db = new Database(process.argv[2], { timeout: 60_000 });
db.pragma('journal_mode = WAL');
db.exec('create table if not exists live_writes (id integer primary key, at integer not null)');
const insert = db.prepare('insert into live_writes (at) values (?)');
let commits = 0;
let longestMs = 0;
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.stdout.write('ready\n');
const started = performance.now();
function burst() {
  for (let i = 0; i < 20 && !stopping; i++) {
    const before = performance.now();
    insert.run(Date.now());
    longestMs = Math.max(longestMs, performance.now() - before);
    commits++;
  }
  if (stopping) {
    db.close();
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ commits, commitsPerSecond: Math.round(commits / seconds), longestCommitMs: Number(longestMs.toFixed(1)) })}\n`);
    process.exit(0);
  }
  setImmediate(burst);
}
burst();
