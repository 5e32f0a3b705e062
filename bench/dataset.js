// A reproducible mixed data set: half incompressible bytes, half text, logs and a SQLite database, many small files.
import { createCipheriv } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Bumped whenever the generator changes, so cached data sets are regenerated. */
export const DATASET_VERSION = 2;

/** Deterministic incompressible bytes: AES-256-CTR keystream from a seed, so runs are comparable. */
export function randomBytesFrom(seed, size) {
  const key = Buffer.alloc(32);
  key.write(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Log lines of about `bytes` (exactly, cut at the end), different for each seed. */
export function logText(bytes, seed) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `2026-11-${String((i % 28) + 1).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z INFO worker-${(i * 7 + seed) % 13} processed request id=${(i * 2654435761 + seed) % 1e9} status=${i % 17 === 0 ? 500 : 200} latency_ms=${(i * 37 + seed) % 900}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

/** A SQLite database of about `bytes`: an orders table with text, numbers and an index. */
function sqliteDatabase(path, bytes) {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = OFF');
    db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, item TEXT, quantity INTEGER, price REAL, note TEXT)');
    db.exec('CREATE INDEX orders_customer ON orders (customer)');
    const insert = db.prepare('INSERT INTO orders (customer, item, quantity, price, note) VALUES (?, ?, ?, ?, ?)');
    const pageSize = db.pragma('page_size', { simple: true });
    let row = 0;
    const batch = db.transaction((count) => {
      for (let i = 0; i < count; i++, row++) {
        insert.run(
          `customer-${(row * 7919) % 50_000}`,
          `item-${(row * 104_729) % 9_973}`,
          (row % 17) + 1,
          ((row * 31) % 100_000) / 100,
          `order ${row} shipped to warehouse ${row % 97} on lane ${(row * 13) % 41}`,
        );
      }
    });
    while (db.pragma('page_count', { simple: true }) * pageSize < bytes) batch(5000);
  } finally {
    db.close();
  }
}

export async function generateDataset(root, totalBytes) {
  const partial = `${root}.partial`;
  await rm(partial, { recursive: true, force: true });
  for (const dir of ['binary', 'logs', 'small', 'db']) await mkdir(join(partial, dir), { recursive: true });
  const half = Math.floor(totalBytes / 2);
  const bigFiles = 4;
  for (let f = 0; f < bigFiles; f++) await writeFile(join(partial, 'binary', `blob-${f}.bin`), randomBytesFrom(`bin${f}`, Math.floor(half / bigFiles)));
  // 100 MB at 1 GiB, in proportion otherwise.
  const sqliteBytes = Math.round((totalBytes * 100e6) / 1024 ** 3);
  sqliteDatabase(join(partial, 'db', 'shop.sqlite'), sqliteBytes);
  const smallCount = 3000;
  const smallBytes = Math.floor(totalBytes * 0.05);
  for (let i = 0; i < smallCount; i++) {
    const dir = join(partial, 'small', `d${i % 40}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `note-${i}.txt`), logText(Math.floor(smallBytes / smallCount), i));
  }
  const logBytes = Math.max(0, totalBytes - half - sqliteBytes - smallBytes);
  const logFiles = 8;
  for (let f = 0; f < logFiles; f++) await writeFile(join(partial, 'logs', `app-${f}.log`), logText(Math.floor(logBytes / logFiles), f));
  await rename(partial, root);
}
