/**
 * SSH connections to one server: opened by ssh2-sftp-client with the host key
 * check and the configured credentials, kept alive, and shared through a
 * bounded pool. SFTP multiplexes requests, so operations share connections
 * (least busy first) instead of queueing for one: a caller holding a read
 * stream never blocks another operation.
 */
import { readFileSync } from 'node:fs';
import SftpClient from 'ssh2-sftp-client';
import type { SFTPWrapper } from 'ssh2';
import { errnoOf, FailsafeError } from '../../core/errors.js';
import { hostKeyCheck } from './host-key.js';
import type { SftpOptions } from './options.js';

export interface Connection {
  readonly client: SftpClient;
  readonly sftp: SFTPWrapper;
  /** False once the connection closed or failed; a dead connection leaves the pool. */
  alive: boolean;
  /**
   * Rejects when the connection dies. Requests sent on a dead SFTP channel
   * never get an answer, so every request races against it.
   */
  lost: Promise<never>;
  /** Calls `listener` when the connection dies; returns the unsubscribe. */
  onLost(listener: (err: Error) => void): () => void;
  /** Marks the connection dead, failing whatever waits on it; `cause` says why (a keepalive time-out, a reset). */
  kill(cause?: unknown): void;
  /** Operations using it now. */
  active: number;
}

export async function openConnection(options: SftpOptions, target: string): Promise<Connection> {
  const check = hostKeyCheck(options, options.host, options.port, target);
  let privateKey: Buffer | undefined;
  if (options.privateKey !== undefined) {
    try {
      privateKey = readFileSync(options.privateKey);
    } catch (err) {
      throw new FailsafeError('E_AUTH', `target "${target}": privateKey ${options.privateKey} cannot be read (${errnoOf(err) ?? String(err)})`, { cause: err });
    }
  }
  const agent = options.agent === true ? process.env.SSH_AUTH_SOCK : options.agent || undefined;
  if (options.agent === true && !agent) throw new FailsafeError('E_AUTH', `target "${target}": agent: true but SSH_AUTH_SOCK is not set`);

  let reject: (err: Error) => void = () => undefined;
  const lost = new Promise<never>((_, fail) => (reject = fail));
  lost.catch(() => undefined);
  const listeners = new Set<(err: Error) => void>();
  const connection = {
    alive: true,
    lost,
    onLost(listener: (err: Error) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    kill(cause?: unknown): void {
      if (!connection.alive) return;
      connection.alive = false;
      const err = new Error(`sftp: connection lost to ${options.host}:${options.port}`, cause instanceof Error ? { cause } : {});
      reject(err);
      for (const listener of listeners) listener(err);
      listeners.clear();
    },
  };
  const dead = (cause?: unknown): void => connection.kill(cause);
  const client = new SftpClient(`failsafe:${target}`, { error: dead, end: dead, close: dead });
  let sftp: SFTPWrapper;
  try {
    sftp = await client.connect({
      host: options.host,
      port: options.port,
      username: options.username,
      ...(privateKey ? { privateKey } : {}),
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
      ...(agent ? { agent } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      hostVerifier: (key: Buffer) => check.verify(key),
      ...(check.algorithms ? { algorithms: { serverHostKey: check.algorithms as never } } : {}),
    });
  } catch (err) {
    await client.end().catch(() => undefined);
    throw check.refusal() ?? connectError(err, options, target);
  }
  return Object.assign(connection, { client, sftp, active: 0 });
}

function connectError(err: unknown, options: SftpOptions, target: string): FailsafeError {
  const where = `target "${target}": ${options.username}@${options.host}:${options.port}`;
  const detail = err instanceof Error ? err.message.replace(/^[\w:]*getConnection: /, '') : String(err);
  if ((err as { level?: string }).level === 'client-authentication' || /authentication methods failed/i.test(detail)) {
    return new FailsafeError('E_AUTH', `${where}: login refused (wrong key, passphrase, password or user)`, { cause: err });
  }
  if (/connect to agent/i.test(detail)) {
    return new FailsafeError(
      'E_AUTH',
      `${where}: the ssh-agent at ${String(options.agent === true ? process.env.SSH_AUTH_SOCK : options.agent)} cannot be reached`,
      { cause: err },
    );
  }
  if (/passphrase|encrypted private key|cannot parse privateKey/i.test(detail)) {
    return new FailsafeError('E_AUTH', `${where}: privateKey ${options.privateKey ?? ''} cannot be used: ${detail}`, { cause: err });
  }
  return new FailsafeError('E_UNREACHABLE', `${where}: cannot connect: ${detail}`, { cause: err });
}

/** Up to `size` connections, opened on demand and shared by concurrent operations. */
export class ConnectionPool {
  readonly #open: () => Promise<Connection>;
  readonly #size: number;
  readonly #connections: Connection[] = [];
  /** Connections being opened, counted against the bound. */
  readonly #opening = new Set<Promise<Connection>>();
  #closed = false;

  constructor(size: number, open: () => Promise<Connection>) {
    this.#size = size;
    this.#open = open;
  }

  /** Runs `work` on a live connection; the connection is released when it settles. */
  async use<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  async acquire(): Promise<Connection> {
    if (this.#closed) throw new FailsafeError('E_STORAGE', 'sftp: the target is closed');
    this.#prune();
    const idle = this.#connections.find((c) => c.active === 0);
    if (!idle && this.#connections.length + this.#opening.size < this.#size) {
      const opening = this.#open();
      this.#opening.add(opening);
      try {
        const connection = await opening;
        if (this.#closed) {
          await connection.client.end().catch(() => undefined);
          throw new FailsafeError('E_STORAGE', 'sftp: the target is closed');
        }
        this.#connections.push(connection);
        connection.active++;
        return connection;
      } finally {
        this.#opening.delete(opening);
      }
    }
    const least = idle ?? [...this.#connections].sort((a, b) => a.active - b.active)[0];
    if (!least) {
      // Every slot is still connecting: share the first one to finish.
      const connection = await Promise.race(this.#opening);
      connection.active++;
      return connection;
    }
    least.active++;
    return least;
  }

  release(connection: Connection): void {
    connection.active--;
    if (!connection.alive) this.#prune();
  }

  /** Drops a connection that failed mid-operation, so the next attempt opens a fresh one. */
  discard(connection: Connection): void {
    connection.kill();
    this.#prune();
    connection.client.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#connections, ...(await Promise.allSettled(this.#opening)).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
    this.#connections.length = 0;
    await Promise.allSettled(all.map((c) => c.client.end()));
  }

  #prune(): void {
    for (let i = this.#connections.length - 1; i >= 0; i--) if (!this.#connections[i]!.alive) this.#connections.splice(i, 1);
  }
}
