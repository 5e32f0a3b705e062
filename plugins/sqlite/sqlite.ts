/**
 * A live SQLite database. Copying the file tears pages and misses the `-wal`;
 * instead `prepare()` takes a consistent snapshot with the online backup API
 * in one step (the stepwise default restarts forever against a busy writer)
 * or with `VACUUM INTO`, checks it, and archives the snapshot. A restore
 * writes and checks the file in staging, refuses while the live database is
 * open elsewhere (E_DB_BUSY), and swaps it in with its stale -wal/-shm moved
 * aside. better-sqlite3 (a native module) is loaded at the first snapshot or
 * check, not when the type is registered: most deployments have no database.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { LiveLocation, RestoreEntry, SourceRestoreOptions, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { lazyDependency } from '../../core/sdk/dependency.js';
import { mtimeOf } from '../../core/fs/mtime.js';
import { FailsafeError } from '../../core/errors.js';
import { defineSource } from '../../core/sdk/registry.js';
import { restoreFlatFiles } from '../../core/sdk/flat-files.js';

export const sqliteOptions = z
  .object({
    path: z.string().min(1),
    /** Of the snapshot, at backup time: `quick_check` by default, cheap on a large database. */
    check: z.enum(['full', 'quick', 'none']).default('quick'),
    /** Of a restored file, before and after it is swapped in: the full `integrity_check` by default, which also compares every index with its table. */
    restoreCheck: z.enum(['full', 'quick']).default('full'),
    method: z.enum(['backup-api', 'vacuum-into']).default('backup-api'),
    busyTimeoutMs: z.number().int().min(0).max(600_000).default(5000),
    rowCounts: z.boolean().default(false),
    /** Where the snapshot is written before it is archived (default: the system temp folder). */
    tempDir: z.string().min(1).optional(),
  })
  .strict();
export type SqliteOptions = z.input<typeof sqliteOptions>;

const COMPANIONS = ['-wal', '-shm', '-journal'];

type DatabaseClass = typeof Database;

const betterSqlite3 = lazyDependency('better-sqlite3', 'sqlite sources', async (): Promise<DatabaseClass> => {
  const { default: Database } = await import('better-sqlite3');
  // Its native part loads with the first database: open one now, so a broken build is E_DEPENDENCY and not a source error.
  new Database(':memory:').close();
  return Database;
});

export class SqliteSource implements SourcePlugin {
  readonly type = 'sqlite';
  readonly name: string;
  readonly path: string;
  readonly #options: z.output<typeof sqliteOptions>;
  #work: string | undefined;
  #snapshot: string | undefined;
  #facts: Record<string, unknown> | undefined;

  constructor(options: SqliteOptions, name = basename(options.path)) {
    this.#options = sqliteOptions.parse(options);
    this.path = resolve(this.#options.path);
    this.name = name;
  }

  liveLocations(): LiveLocation[] {
    return [{ archivePath: basename(this.path), livePath: this.path, kind: 'file', companions: COMPANIONS.map((s) => this.path + s) }];
  }

  async prepare(context: SourceContext): Promise<void> {
    const info = await stat(this.path).catch(() => undefined);
    if (!info?.isFile()) {
      throw new FailsafeError('E_SOURCE_MISSING', `source "${this.name}": ${this.path} ${info ? 'is not a file' : 'does not exist'}`);
    }
    const Database = await betterSqlite3();
    this.#work = await mkdtemp(join(this.#options.tempDir ?? tmpdir(), 'failsafe-sqlite-'));
    const snapshot = join(this.#work, basename(this.path));
    const source = this.#openSource(Database);
    let live: Record<string, unknown>;
    try {
      context.signal?.throwIfAborted();
      live = {
        journalMode: String(source.pragma('journal_mode', { simple: true })),
        sqliteVersion: String(source.prepare('select sqlite_version()').pluck().get()),
      };
      if (this.#options.method === 'vacuum-into') source.prepare('VACUUM INTO ?').run(snapshot);
      // One step: a page count larger than any database copies it under one read lock, so writers never force a restart.
      else await source.backup(snapshot, { progress: () => 2 ** 30 });
    } catch (err) {
      throw this.#sourceError(err);
    } finally {
      source.close();
    }
    this.#facts = { ...live, ...inspect(Database, snapshot, this.#options.check, this.#options.rowCounts, this.name) };
    this.#snapshot = snapshot;
  }

  async *entries(): AsyncIterable<SourceEntry> {
    const snapshot = this.#snapshot;
    if (!snapshot) throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": no snapshot was taken (prepare() was not called)`);
    const info = await stat(snapshot);
    const live = await stat(this.path);
    yield {
      path: basename(this.path),
      type: 'file',
      size: info.size,
      mode: live.mode & 0o7777,
      mtime: mtimeOf(live),
      uid: live.uid,
      gid: live.gid,
      open: () => createReadStream(snapshot, { highWaterMark: 1024 * 1024 }),
    };
  }

  describe(): Record<string, unknown> {
    return { ...this.#facts, method: this.#options.method };
  }

  async cleanup(): Promise<void> {
    if (this.#work) await rm(this.#work, { recursive: true, force: true });
    this.#work = undefined;
    this.#snapshot = undefined;
  }

  async restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number> {
    return restoreFlatFiles(entries, destination, options, `source "${this.name}" holds one database file`);
  }

  async check(restoredPath: string, writable = false): Promise<void> {
    const file = (await stat(restoredPath)).isDirectory() ? join(restoredPath, basename(this.path)) : restoredPath;
    const Database = await betterSqlite3();
    try {
      inspect(Database, file, this.#options.restoreCheck, false, this.name, writable);
    } catch (err) {
      const e = err as FailsafeError;
      throw new FailsafeError('E_CHECK_FAILED', `restored database ${basename(file)} fails its check: ${e.message}`, { cause: err });
    }
  }

  /** Read-write, so closing removes the -wal/-shm a read-only check of a WAL database would leave beside it. */
  async checkLive(): Promise<void> {
    await this.check(this.path, true);
  }

  async beforeSwap(livePaths: string[]): Promise<void> {
    for (const livePath of livePaths) {
      const info = await stat(livePath).catch(() => undefined);
      if (!info) continue;
      const file = info.isDirectory() ? join(livePath, basename(this.path)) : livePath;
      const holders = await processesHolding([file, ...COMPANIONS.map((s) => file + s)]);
      if (holders.length > 0) {
        throw new FailsafeError('E_DB_BUSY', `database ${file} is open in ${holders.join(', ')}; stop it before restoring (nothing was changed)`);
      }
    }
  }

  #openSource(Database: DatabaseClass): Database.Database {
    try {
      // Not readonly: a WAL database needs its -shm, and a snapshot of a database whose writer crashed needs recovery.
      return new Database(this.path, { fileMustExist: true, timeout: this.#options.busyTimeoutMs });
    } catch (err) {
      throw this.#sourceError(err);
    }
  }

  #sourceError(err: unknown): FailsafeError {
    if (err instanceof FailsafeError) return err;
    const code = (err as { code?: string }).code ?? '';
    const detail = (err as Error).message;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new FailsafeError(
        'E_DB_BUSY',
        `source "${this.name}": ${this.path} stayed locked for ${this.#options.busyTimeoutMs} ms (${detail}); no snapshot was taken`,
        { cause: err },
      );
    }
    if (code === 'SQLITE_NOTADB') return new FailsafeError('E_SOURCE_READ', `source "${this.name}": ${this.path} is not a SQLite database`, { cause: err });
    if (code.startsWith('SQLITE_CORRUPT'))
      return new FailsafeError('E_SOURCE_CORRUPT', `source "${this.name}": ${this.path} is corrupt: ${detail}`, { cause: err });
    return new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot snapshot ${this.path}: ${detail}`, { cause: err });
  }
}

/** Checks a database file and returns the facts the manifest records. */
function inspect(
  Database: DatabaseClass,
  file: string,
  check: 'full' | 'quick' | 'none',
  rowCounts: boolean,
  source: string,
  writable = false,
): Record<string, unknown> {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: !writable, fileMustExist: true });
    if (check !== 'none') {
      const problems = db.pragma(check === 'full' ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Record<string, string>[];
      const messages = problems.map((row) => Object.values(row)[0]).filter((m) => m !== 'ok');
      if (messages.length > 0) {
        throw new FailsafeError(
          'E_SOURCE_CORRUPT',
          `source "${source}": ${check === 'full' ? 'integrity_check' : 'quick_check'} failed: ${messages.slice(0, 3).join('; ')}`,
        );
      }
    }
    const schema = db.prepare("select type, name, tbl_name, coalesce(sql, '') as sql from sqlite_schema order by type, name").all() as Record<string, string>[];
    const facts: Record<string, unknown> = {
      pageSize: db.pragma('page_size', { simple: true }),
      pageCount: db.pragma('page_count', { simple: true }),
      userVersion: db.pragma('user_version', { simple: true }),
      schemaSha256: createHash('sha256').update(JSON.stringify(schema)).digest('hex'),
    };
    if (rowCounts) {
      const counts: Record<string, number> = {};
      for (const { name } of schema.filter((s) => s.type === 'table' && !s.name!.startsWith('sqlite_'))) {
        counts[name!] = Number(
          db
            .prepare(`select count(*) from "${name!.replace(/"/g, '""')}"`)
            .pluck()
            .get(),
        );
      }
      facts.rowCounts = counts;
    }
    return facts;
  } catch (err) {
    if (err instanceof FailsafeError) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (code === 'SQLITE_NOTADB') throw new FailsafeError('E_SOURCE_READ', `source "${source}": ${basename(file)} is not a SQLite database`, { cause: err });
    throw new FailsafeError('E_SOURCE_CORRUPT', `source "${source}": ${basename(file)} cannot be checked: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}

/** Other processes with one of `files` open, as `name (pid N)`, from /proc (empty where /proc is missing). */
async function processesHolding(files: string[]): Promise<string[]> {
  const wanted = new Set(files.map((f) => resolve(f)));
  const found: string[] = [];
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const pid of pids) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (wanted.has(target)) {
        const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
        found.push(`${comm} (pid ${pid})`);
        break;
      }
    }
  }
  return found;
}

export const sqliteSource = defineSource({
  type: 'sqlite',
  optionsSchema: sqliteOptions,
  defaultName: (options) => basename(options.path),
  create: (options, name) => new SqliteSource(options, name),
});
