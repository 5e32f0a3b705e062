/**
 * The check of a restored database: the full integrity_check by default
 * (`restoreCheck: full`), which finds an index that no longer matches its
 * table where quick_check passes; `restoreCheck: quick` for a large database.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteSource } from '../../plugins/sqlite/sqlite.js';

/** A database whose two indexes point at each other's b-tree: every page is sound, no index matches its table. */
async function indexMismatch(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'failsafe-sqlite-check-')), 'app.db');
  const db = new Database(file);
  db.exec('create table t1(a int); create index i1 on t1(a); create table t2(a int); create index i2 on t2(a);');
  // As many rows in each (quick_check counts an index's entries), with other values (integrity_check finds them missing).
  for (let i = 0; i < 100; i++) db.prepare('insert into t1 values (?)').run(i);
  for (let i = 0; i < 100; i++) db.prepare('insert into t2 values (?)').run(5000 + i);
  const root = (name: string): number => db.prepare('select rootpage from sqlite_schema where name = ?').pluck().get(name) as number;
  const [r1, r2] = [root('i1'), root('i2')];
  db.unsafeMode(true);
  db.pragma('writable_schema = ON');
  db.prepare("update sqlite_schema set rootpage = ? where name = 'i1'").run(r2);
  db.prepare("update sqlite_schema set rootpage = ? where name = 'i2'").run(r1);
  db.close();
  return file;
}

describe('the check of a restored SQLite database', () => {
  it('is the full integrity_check by default: an index that does not match its table fails it (quick_check passes it)', async () => {
    const file = await indexMismatch();
    const probe = new Database(file, { readonly: true });
    expect(probe.pragma('quick_check', { simple: true })).toBe('ok');
    probe.close();
    await expect(new SqliteSource({ path: file }).check(file)).rejects.toMatchObject({
      code: 'E_CHECK_FAILED',
      message: expect.stringMatching(/integrity_check failed: row \d+ missing from index/),
    });
  });

  it('is quick_check with restoreCheck: quick, whatever the backup-time check', async () => {
    const file = await indexMismatch();
    await expect(new SqliteSource({ path: file, restoreCheck: 'quick', check: 'full' }).check(file)).resolves.toBeUndefined();
  });
});
