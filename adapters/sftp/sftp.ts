/**
 * A folder on a server reachable over SSH: a NAS, a VPS, another machine.
 * Host keys are always checked (adapters/sftp/host-key.ts). Puts are atomic:
 * the bytes go to a temp name beside the object (hidden from listings), are
 * fsynced, and `posix-rename@openssh.com` moves them over the final name,
 * which plain SFTP rename refuses when the target exists. Transfers pipeline
 * many requests (adapters/sftp/transfer.ts); an operation whose connection
 * drops is retried on a fresh one with backoff.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import type { Stats } from 'ssh2';
import type { ByteRange, ObjectInfo, StorageAdapter, StorageOptions } from '../../core/contracts.js';
import { isTempName, TEMP_PREFIX } from '../../core/fs/atomic.js';
import { InFlight } from '../../core/util/in-flight.js';
import type { AdapterContext } from '../../core/sdk/registry.js';
import { ConnectionPool, openConnection, type Connection } from './connection.js';
import { RemoteFolders } from './folders.js';
import { isConnectionLoss, isMissing, STATUS } from './errors.js';
import { onFreshConnection, operationTimeout } from './retry.js';
import { warnIfInsecure } from './host-key.js';
import { sftpOptionsSchema, withTimeouts, type SftpOptions, type SftpOptionsInput } from './options.js';
import { resumable, type OpenedRead } from '../../core/repository/resume.js';
import type { Attempt, RetryKind } from '../../core/repository/retry-counts.js';
import { downloadFrom, sftpOps as ops, uploadTo } from './transfer.js';

const CLOSE_WAIT_MS = 15_000; // how long close() waits for puts still clearing up their temp files

export class SftpAdapter implements StorageAdapter {
  readonly type = 'sftp';
  readonly capabilities = { rangeRead: true, persistent: true } as const;
  readonly root: string;
  readonly options: SftpOptions;
  readonly #target: string;
  readonly #pool: ConnectionPool;
  readonly #folders: RemoteFolders;
  /** Temp files a dropped connection kept us from removing; removed after the next successful put or at close. */
  readonly #orphans = new Set<string>();
  readonly #puts = new InFlight(); // put attempts, clean-up included
  #retried = 0;
  readonly #context: AdapterContext | undefined;

  constructor(options: SftpOptionsInput, targetName = 'sftp', context?: AdapterContext) {
    this.options = withTimeouts(sftpOptionsSchema.parse(options), context?.timeouts);
    this.#context = context;
    warnIfInsecure(this.options, targetName, context);
    this.root = this.options.path.replace(/(.)\/+$/, '$1');
    this.#folders = new RemoteFolders(this.root);
    this.#target = targetName;
    this.#pool = new ConnectionPool(this.options.connections, () => openConnection(this.options, targetName));
  }

  async put(key: string, body: Readable | Buffer, options: StorageOptions = {}): Promise<{ size: number }> {
    const path = this.#path(key);
    const { signal } = options;
    if (signal && !Buffer.isBuffer(body)) addAbortSignal(signal, body);
    // A stream can be sent only once: it is retried only when no byte of it was read yet.
    let consumed = false;
    const size = await this.#retry(
      `put ${key}`,
      signal,
      () => Buffer.isBuffer(body) || !consumed,
      // Tracked until its temp file is renamed or removed: an abort settles the retry at once, but close() waits
      // for the attempt itself, so a failing backup's aborted puts finish clearing up before the connections go.
      (connection) =>
        this.#puts.track(
          (async (): Promise<number> => {
            const temp = posix.join(posix.dirname(path), `${TEMP_PREFIX}${posix.basename(path)}-${randomBytes(6).toString('hex')}`);
            let handle: Buffer | undefined;
            try {
              handle = await this.#folders.openForWrite(connection, temp);
              consumed = true;
              const written = await uploadTo(connection, handle, body, signal);
              await ops.fsync(connection, handle).catch((err: unknown) => {
                if ((err as { code?: unknown }).code !== STATUS.OP_UNSUPPORTED && !/not supported/i.test(String(err))) throw err;
              });
              await ops.close(connection, handle);
              handle = undefined;
              signal?.throwIfAborted();
              await ops.rename(connection, temp, path);
              return written;
            } catch (err) {
              if (handle) await ops.close(connection, handle).catch(() => undefined);
              await ops.unlink(connection, temp).catch(() => {
                if (!connection.alive || isConnectionLoss(err, connection)) this.#orphans.add(temp);
              });
              throw err;
            }
          })(),
        ),
    );
    await this.#removeOrphans();
    return { size };
  }

  async get(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Readable> {
    const start = options.range?.start ?? 0;
    const open = (position: number): Promise<OpenedRead> => this.#openRead(key, position, options.range?.end, options.signal);
    const first = await open(start);
    const resumed = (err: unknown): void => this.#failed('resumed', err);
    const stream = this.options.retries === 0 ? first.stream : resumable(first, start, this.options.retries, open, resumed);
    if (options.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  /** The object's bytes from `position` to `end` (inclusive; the last byte by default), on a pooled connection. */
  async #openRead(key: string, position: number, end: number | undefined, signal: AbortSignal | undefined): Promise<OpenedRead> {
    const path = this.#path(key);
    return this.#retry(
      `get ${key}`,
      signal,
      () => true,
      async (connection) => {
        const handle = await ops.open(connection, path, 'r');
        let stats: Stats;
        try {
          stats = await ops.fstat(connection, handle);
        } catch (err) {
          await ops.close(connection, handle).catch(() => undefined);
          throw err;
        }
        // The stream keeps the connection in use until it ends or is destroyed.
        connection.active++;
        let released = false;
        const release = async (): Promise<void> => {
          if (released) return;
          released = true;
          await ops.close(connection, handle).catch(() => undefined);
          this.#pool.release(connection);
        };
        const stream = downloadFrom(connection, handle, position, Math.min(end ?? stats.size - 1, stats.size - 1), release);
        // The operation time-out bounds the body too: past it the connection is dropped, and the read goes on from where it was.
        const timer = setTimeout(() => connection.kill(operationTimeout(this.options.operationTimeoutMs)), this.options.operationTimeoutMs);
        stream.once('close', () => {
          clearTimeout(timer);
          void release();
        });
        return { stream, version: `${stats.size} bytes, mtime ${stats.mtime}`, lost: (err) => isConnectionLoss(err, connection) };
      },
    );
  }

  async head(key: string, options: StorageOptions = {}): Promise<ObjectInfo | undefined> {
    const path = this.#path(key);
    return this.#retry(
      `head ${key}`,
      options.signal,
      () => true,
      async (connection) => {
        try {
          const stats = await ops.stat(connection, path);
          return stats.isFile() ? { key, size: stats.size, modified: new Date(stats.mtime * 1000) } : undefined;
        } catch (err) {
          if (isMissing(err)) return undefined;
          throw err;
        }
      },
    );
  }

  async *list(prefix: string, options: StorageOptions = {}): AsyncIterable<ObjectInfo> {
    // Walk only the folder the prefix points into, then filter by the rest.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash === -1 ? '' : prefix.slice(0, slash);
    for await (const info of this.#walk(dirKey, options.signal)) {
      if (info.key.startsWith(prefix)) yield info;
    }
  }

  async delete(key: string, options: StorageOptions = {}): Promise<void> {
    const path = this.#path(key);
    await this.#retry(
      `delete ${key}`,
      options.signal,
      () => true,
      async (connection) => {
        await ops.unlink(connection, path).catch((err: unknown) => {
          if (!isMissing(err)) throw err;
        });
        await this.#folders.removeEmptyAbove(connection, path);
      },
    );
  }

  /** Removes temp files left by a crash mid-put, older than `olderThanMs`. Returns how many. */
  async cleanupTemp(olderThanMs = 60 * 60 * 1000): Promise<number> {
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      const entries = await this.#readdir(dir, undefined);
      for (const entry of entries) {
        const path = posix.join(dir, entry.filename);
        if (entry.attrs.isDirectory()) await visit(path);
        else if (isTempName(entry.filename) && Date.now() - entry.attrs.mtime * 1000 >= olderThanMs) {
          await this.#retry(
            `clean up ${path}`,
            undefined,
            () => true,
            (c) => ops.unlink(c, path).catch((err: unknown) => void (isMissing(err) || Promise.reject(err))),
          );
          removed++;
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  async close(): Promise<void> {
    // A put stalled on a dead link must not hold the process: its temp file is left to cleanupTemp (prune).
    await this.#puts.settled(CLOSE_WAIT_MS);
    await this.#removeOrphans();
    await this.#pool.close();
  }

  /** Attempts that failed on a lost connection or an unreachable server (each retried while `retries` allow). */
  get retried(): number {
    return this.#retried;
  }

  async *#walk(dirKey: string, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo> {
    const entries = await this.#readdir(dirKey === '' ? this.root : this.#path(dirKey), signal);
    // Keys sort by their string; a folder's keys sort as `name/…`.
    const named = entries
      .filter((e) => e.filename !== '.' && e.filename !== '..')
      .map((e) => ({ e, sortKey: e.attrs.isDirectory() ? `${e.filename}/` : e.filename }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { e } of named) {
      const key = dirKey === '' ? e.filename : `${dirKey}/${e.filename}`;
      if (e.attrs.isDirectory()) yield* this.#walk(key, signal);
      else if (e.attrs.isFile() && !isTempName(e.filename)) yield { key, size: e.attrs.size, modified: new Date(e.attrs.mtime * 1000) };
    }
  }

  /** A folder's entries; a missing folder has none. */
  async #readdir(dir: string, signal: AbortSignal | undefined): ReturnType<typeof ops.readdir> {
    return this.#retry(
      `list ${dir}`,
      signal,
      () => true,
      (connection) =>
        ops.readdir(connection, dir).catch((err: unknown) => {
          if (isMissing(err) || (err as { code?: unknown }).code === STATUS.FAILURE) return [];
          throw err;
        }),
    );
  }

  async #removeOrphans(): Promise<void> {
    for (const temp of [...this.#orphans]) {
      this.#orphans.delete(temp);
      await this.#pool.use((c) => ops.unlink(c, temp)).catch(() => undefined);
    }
  }

  #retry<T>(what: string, signal: AbortSignal | undefined, replayable: () => boolean, work: (connection: Connection) => Promise<T>): Promise<T> {
    const scope = { target: this.#target, pool: this.#pool, options: this.options, failed: this.#failed.bind(this) };
    return onFreshConnection(scope, what, signal, replayable, work);
  }

  /** A failed attempt; one that will be made again (`kind`) is counted for the deployment too (core/repository/retry-counts.ts). */
  #failed(kind: RetryKind | undefined, err: unknown, attempt?: Attempt): void {
    this.#retried++;
    if (kind) this.#context?.retried?.(kind, err, attempt);
  }

  #path(key: string): string {
    return posix.join(this.root, ...key.split('/'));
  }
}
