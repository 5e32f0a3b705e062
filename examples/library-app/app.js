// An application that uses Failsafe as a library (docs/api.md): a nightly
// batch imports sensor readings into its SQLite database, checkpointing as it
// goes so a crash resumes where it stopped, and backs the database up after
// each run. Needs `npm run build` first.
//
//   node examples/library-app/app.js [--dir DIR] [--batch NAME] [--crash-at N]
//
// Everything lives in DIR (default: this folder): data/app.db, backups/.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Failsafe, runBatch } from 'failsafe';

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const dir = arg('--dir', import.meta.dirname);
const batch = arg('--batch', new Date().toISOString().slice(0, 10));
const crashAt = Number(arg('--crash-at', -1));

await mkdir(join(dir, 'data'), { recursive: true });
const db = new Database(join(dir, 'data', 'app.db'));
db.pragma('journal_mode = WAL');
db.exec('create table if not exists readings (batch text, seq integer, celsius real, primary key (batch, seq))');

// The deployment as an object of failsafe.yaml's shape; paths resolve against `baseDir`.
const failsafe = await Failsafe.fromConfig(
  {
    version: 1,
    targets: { backups: { type: 'local', path: './backups' } },
    encryption: { passphrase: '${APP_BACKUP_PASSPHRASE}' },
    checkpoints: { target: 'backups', keep: 10 },
    jobs: { app: { sources: [{ type: 'sqlite', name: 'database', path: './data/app.db' }], targets: ['backups'] } },
  },
  { baseDir: dir, env: { APP_BACKUP_PASSPHRASE: 'example only: read it from your secret store', ...process.env } },
);

try {
  const checkpoints = failsafe.checkpoints();
  for (const op of await checkpoints.recoverable()) {
    console.log(`resuming "${op.operationName}" at ${Math.round(op.progress * 100)}% (${op.state})`);
  }

  const insert = db.prepare('insert or replace into readings values (?, ?, ?)');
  const readings = Array.from({ length: 200 }, (_, seq) => ({ seq, celsius: 18 + Math.sin(seq / 10) * 4 }));
  const result = await runBatch({
    store: checkpoints,
    operationId: `import-${batch}`,
    operationName: `Import of batch ${batch}`,
    items: readings,
    everyItems: 25,
    process: (reading, index) => {
      if (index === crashAt) process.kill(process.pid, 'SIGKILL'); // a real crash: nothing after this runs
      insert.run(batch, reading.seq, reading.celsius); // idempotent: a replayed item replaces itself
    },
  });
  console.log(`imported ${result.processed} readings of batch ${batch}, starting at ${result.resumedAt}`);

  // The batch is done: back the database up while it stays open (the sqlite source snapshots it consistently).
  failsafe.on('progress', (p) => process.stderr.write(`\rbacking up ${p.job}: ${p.bytesRead} bytes read, ${p.storedBytes} stored`));
  const { snapshots, failures } = await failsafe.backup(['app']);
  process.stderr.write('\n');
  for (const s of snapshots) console.log(`snapshot ${s.id} in ${s.target}: ${s.bytes} bytes`);
  for (const f of failures) console.error(`backup failed: ${f.error.message} [${f.error.code}]`);
  process.exitCode = failures.length > 0 ? 1 : 0;
} finally {
  db.close();
  await failsafe.close();
}
