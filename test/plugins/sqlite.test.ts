import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import { SqliteSource } from '../../plugins/sqlite/sqlite.js';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { context, roundTrip } from './helpers.js';

const writers: ChildProcess[] = [];
afterEach(() => {
  for (const w of writers.splice(0)) w.kill('SIGKILL');
});

/** Starts the writer process and resolves once it commits. */
async function startWriter(db: string): Promise<{ stop(): Promise<number> }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'fixtures', 'sqlite-writer.js'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
  writers.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => out.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
  });
  return {
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      return Number(/last (\d+)/.exec(out)?.[1]);
    },
  };
}

const codeOf = (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => (e as FailsafeError).code,
  );

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'failsafe-sqlite-test-'));
}

describe('sqlite source', () => {
  it.each(['backup-api', 'vacuum-into'] as const)(
    'snapshots a database under a live writer process (%s): restored rows are a gapless prefix',
    async (method) => {
      const dir = await tmp();
      const db = join(dir, 'app.db');
      const writer = await startWriter(db);
      await new Promise((r) => setTimeout(r, 300));
      const source = new SqliteSource({ path: db, method, check: 'full', rowCounts: true });
      await source.prepare(context());
      const facts = source.describe();
      const to = join(dir, 'restored');
      await mkdir(to);
      await source.restore(roundTrip(source), to, context());
      await source.cleanup();
      const last = await writer.stop();

      await source.check(to);
      const restored = new Database(join(to, 'app.db'), { readonly: true });
      const { n, max, min } = restored.prepare('select count(*) n, max(id) max, min(id) min from counter').get() as { n: number; max: number; min: number };
      restored.close();
      expect(n).toBeGreaterThan(100);
      expect(min).toBe(1);
      expect(max).toBe(n); // gapless
      expect(max).toBeLessThanOrEqual(last);
      expect(facts).toMatchObject({ journalMode: 'wal', pageSize: 4096, userVersion: 0, method, rowCounts: { counter: n } });
      expect(facts.schemaSha256).toMatch(/^[0-9a-f]{64}$/);
    },
  );

  it('a missing file, a non-database, a corrupt page: one clear error each', async () => {
    const dir = await tmp();
    expect(await codeOf(new SqliteSource({ path: join(dir, 'nope.db') }).prepare(context()))).toBe('E_SOURCE_MISSING');
    await writeFile(join(dir, 'text.db'), 'this is not a database, just some text that is long enough '.repeat(100));
    const notDb = await new SqliteSource({ path: join(dir, 'text.db') }).prepare(context()).catch((e: FailsafeError) => e);
    expect((notDb as FailsafeError).code).toBe('E_SOURCE_READ');
    expect((notDb as FailsafeError).message).toMatch(/is not a SQLite database/);

    const corrupt = join(dir, 'corrupt.db');
    const db = new Database(corrupt);
    db.exec('create table t (id integer primary key, v text); create index t_v on t(v);');
    const insert = db.prepare('insert into t (v) values (?)');
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`value ${i} `.repeat(5));
    })();
    db.close();
    const handle = await open(corrupt, 'r+');
    await handle.write(Buffer.alloc(4096, 0xab), 0, 4096, 4096 * 3); // overwrite page 4 (a b-tree page)
    await handle.close();
    const source = new SqliteSource({ path: corrupt, check: 'full' });
    const err = await source.prepare(context()).catch((e: FailsafeError) => e);
    await source.cleanup();
    expect((err as FailsafeError).code).toBe('E_SOURCE_CORRUPT');
    expect((err as FailsafeError).message.split('\n')).toHaveLength(1);
  });

  it('a database locked by another process fails after busyTimeoutMs with E_DB_BUSY instead of hanging', async () => {
    const dir = await tmp();
    const path = join(dir, 'locked.db');
    const setup = new Database(path);
    setup.exec('create table t (x)');
    setup.close();
    // Another process holds an exclusive lock (rollback journal) for a few seconds.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import Database from 'better-sqlite3'; const db = new Database(${JSON.stringify(path)}); db.pragma('locking_mode = EXCLUSIVE'); db.exec('begin exclusive; insert into t values (1)'); console.log('locked'); setTimeout(() => {}, 10000);`,
      ],
      { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    writers.push(holder);
    await new Promise<void>((resolve) => holder.stdout!.on('data', (c: Buffer) => c.toString().includes('locked') && resolve()));
    const started = Date.now();
    const source = new SqliteSource({ path, busyTimeoutMs: 300 });
    const err = await source.prepare(context()).catch((e: FailsafeError) => e);
    await source.cleanup();
    expect((err as FailsafeError).code).toBe('E_DB_BUSY');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('restore refuses with E_DB_BUSY while the live database is open in another process', async () => {
    const dir = await tmp();
    const db = join(dir, 'live.db');
    const writer = await startWriter(db);
    const source = new SqliteSource({ path: db });
    expect(await codeOf(source.beforeSwap([db]))).toBe('E_DB_BUSY');
    await writer.stop();
    await source.beforeSwap([db]);
  });
});

/** A deployment whose one job backs up ./app/app.db to a local target. */
const sqliteDeployment = () =>
  makeDeployment({
    jobs: `jobs:
  app:
    sources:
      - { type: sqlite, path: ./app/app.db }
    targets: [disk]`,
  });

describe('sqlite end to end through the CLI', () => {
  it.each([
    ['missing', null, 'E_SOURCE_MISSING'],
    ['not a database', 'just text, no SQLite header '.repeat(200), 'E_SOURCE_READ'],
  ] as const)('a %s source fails the job with one line, exit 1, and leaves no snapshot and no object', async (_label, content, code) => {
    const d = await sqliteDeployment();
    if (content !== null) await writeFile(join(d.root, 'app', 'app.db'), content);
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`[${code}]`);
    expect((await runCli(['list', '-c', d.config, '--json'], PASS)).json()).toEqual([]);
    const left = await readdir(d.target, { recursive: true }).catch(() => [] as string[]);
    const objects = [];
    for (const name of left) if ((await stat(join(d.target, name))).isFile()) objects.push(name);
    expect(objects).toEqual([]);
  });

  it('restores in place: the old database and its stale -wal/-shm are moved aside together', async () => {
    const d = await sqliteDeployment();
    const path = join(d.root, 'app', 'app.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('create table notes (id integer primary key, body text)');
    db.prepare('insert into notes (body) values (?)').run('kept by the backup');
    db.close();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);

    const later = new Database(path);
    later.pragma('wal_autocheckpoint = 0');
    later.prepare('insert into notes (body) values (?)').run('written after the backup');
    // Leave a -wal behind as a crashed app would: copy the files while open.
    const { copyFile } = await import('node:fs/promises');
    await copyFile(`${path}-wal`, `${path}-wal.copy`);
    later.close();
    await copyFile(`${path}-wal.copy`, `${path}-wal`);

    // Without the safety snapshot, whose backup would checkpoint the stale -wal into the live database first.
    const r = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config, '--json'], PASS);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = (await readdir(join(d.root, 'app'))).sort();
    expect(files.filter((f) => f.startsWith('app.db') && !f.includes('pre-restore') && !f.endsWith('.copy'))).toEqual(['app.db']);
    expect(files.some((f) => /^app\.db-wal\.pre-restore-/.test(f))).toBe(true);
    expect(files.some((f) => /^app\.db\.pre-restore-/.test(f))).toBe(true);
    const restored = new Database(path, { readonly: true });
    expect(restored.prepare('select body from notes').pluck().all()).toEqual(['kept by the backup']);
    expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
    restored.close();
  });
});
