/**
 * Fast transfers over one SFTP handle. A plain stream put sends one write
 * and waits for its reply before the next (about 12 MB/s to a local OpenSSH);
 * here up to WINDOW writes at their offsets are in flight at once, and the
 * source is read only when a slot frees up, so memory stays at about
 * WINDOW × CHUNK whatever the object's size. Downloads read ahead the same way
 * and deliver the bytes in order.
 */
import { Readable } from 'node:stream';
import type { FileEntryWithStats, OpenMode, SFTPWrapper, Stats } from 'ssh2';
import { FailsafeError } from '../../core/errors.js';
import type { Connection } from './connection.js';

/** Bytes per request: OpenSSH accepts up to 256 KiB, every server 32 KiB. */
export const CHUNK = 32 * 1024;
/** Requests in flight per transfer. */
export const WINDOW = 64;

type Callback<T> = (err: Error | null | undefined, value: T) => void;
/** One request on the connection, failing at once if the connection is or becomes dead. */
function call<T>(connection: Connection, run: (sftp: SFTPWrapper, done: Callback<T>) => void): Promise<T> {
  if (!connection.alive) return connection.lost;
  const request = new Promise<T>((resolve, reject) => run(connection.sftp, (err, value) => (err ? reject(err) : resolve(value))));
  return Promise.race([request, connection.lost]);
}
const done0 = (done: Callback<void>) => (err: Error | null | undefined) => done(err, undefined);

export const sftpOps = {
  open: (c: Connection, path: string, flags: OpenMode): Promise<Buffer> => call(c, (sftp, done) => sftp.open(path, flags, done)),
  close: (c: Connection, handle: Buffer): Promise<void> => call(c, (sftp, done) => sftp.close(handle, done0(done))),
  fstat: (c: Connection, handle: Buffer): Promise<Stats> => call(c, (sftp, done) => sftp.fstat(handle, done)),
  stat: (c: Connection, path: string): Promise<Stats> => call(c, (sftp, done) => sftp.stat(path, done)),
  unlink: (c: Connection, path: string): Promise<void> => call(c, (sftp, done) => sftp.unlink(path, done0(done))),
  rmdir: (c: Connection, path: string): Promise<void> => call(c, (sftp, done) => sftp.rmdir(path, done0(done))),
  mkdir: (c: Connection, path: string): Promise<void> => call(c, (sftp, done) => sftp.mkdir(path, done0(done))),
  readdir: (c: Connection, path: string): Promise<FileEntryWithStats[]> => call(c, (sftp, done) => sftp.readdir(path, done)),
  rename: (c: Connection, from: string, to: string): Promise<void> => call(c, (sftp, done) => sftp.ext_openssh_rename(from, to, done0(done))),
  fsync: (c: Connection, handle: Buffer): Promise<void> => call(c, (sftp, done) => sftp.ext_openssh_fsync(handle, done0(done))),
  write: (c: Connection, handle: Buffer, data: Buffer, position: number): Promise<void> =>
    call(c, (sftp, done) => sftp.write(handle, data, 0, data.length, position, done0(done))),
};

/** Writes `body` to the open handle with pipelined requests; resolves with the bytes written. */
export async function uploadTo(connection: Connection, handle: Buffer, body: Readable | Buffer, signal?: AbortSignal): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let position = 0;
  const send = async (data: Buffer): Promise<void> => {
    while (inFlight.size >= WINDOW) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    signal?.throwIfAborted();
    const request: Promise<void> = sftpOps.write(connection, handle, data, position).then(
      () => void inFlight.delete(request),
      (err: unknown) => {
        failure ??= err;
        inFlight.delete(request);
      },
    );
    inFlight.add(request);
    position += data.length;
  };

  try {
    if (Buffer.isBuffer(body)) {
      for (let at = 0; at < body.length; at += CHUNK) await send(body.subarray(at, at + CHUNK));
    } else {
      // Small source chunks are gathered into full requests; large ones are cut.
      let pending: Buffer[] = [];
      let pendingSize = 0;
      for await (const chunk of body as AsyncIterable<Buffer | string>) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        pending.push(bytes);
        pendingSize += bytes.length;
        if (pendingSize < CHUNK) continue;
        const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingSize);
        let at = 0;
        for (; joined.length - at >= CHUNK; at += CHUNK) await send(joined.subarray(at, at + CHUNK));
        pending = at < joined.length ? [joined.subarray(at)] : [];
        pendingSize = joined.length - at;
      }
      if (pendingSize > 0) await send(Buffer.concat(pending, pendingSize));
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    return position;
  } finally {
    // Requests still out must settle before the caller closes or removes the file.
    await Promise.allSettled(inFlight);
  }
}

interface Slot {
  position: number;
  length: number;
  data?: Buffer;
  error?: Error;
}

/**
 * The bytes `start`..`end` (inclusive) of an open handle, read ahead with up
 * to WINDOW requests in flight and pushed in order. Reads are issued only
 * while the consumer wants more, so a slow consumer holds at most WINDOW
 * chunks. `onEnd` runs once, after the last request settled.
 */
class HandleReadStream extends Readable {
  readonly #connection: Connection;
  readonly #handle: Buffer;
  readonly #end: number;
  readonly #onEnd: () => Promise<void>;
  readonly #queue: Slot[] = [];
  #next: number;
  #pending = 0;
  #wanted = false;
  #ended = false;
  #settled: (() => void) | undefined;
  readonly #unwatch: () => void;

  constructor(connection: Connection, handle: Buffer, start: number, end: number, onEnd: () => Promise<void>) {
    super({ highWaterMark: CHUNK * 8 });
    this.#connection = connection;
    // Replies that will never come must not keep the stream waiting.
    this.#unwatch = connection.onLost((err) => {
      this.#pending = 0;
      this.destroy(err);
    });
    this.#handle = handle;
    this.#next = start;
    this.#end = end;
    this.#onEnd = onEnd;
  }

  override _read(): void {
    this.#wanted = true;
    this.#flush();
    this.#fill();
  }

  #fill(): void {
    while (this.#queue.length < WINDOW && this.#next <= this.#end) {
      const length = Math.min(CHUNK, this.#end - this.#next + 1);
      const slot: Slot = { position: this.#next, length };
      this.#next += length;
      this.#queue.push(slot);
      this.#request(slot);
    }
    if (this.#queue.length === 0 && this.#next > this.#end && !this.#ended) {
      this.#ended = true;
      this.push(null);
    }
  }

  #request(slot: Slot): void {
    this.#pending++;
    this.#connection.sftp.read(this.#handle, Buffer.allocUnsafe(slot.length), 0, slot.length, slot.position, (err, bytesRead, buffer) => {
      if (this.#pending === 0) return; // the connection was lost; the stream is gone
      this.#pending--;
      if (err) slot.error = err;
      else slot.data = buffer.subarray(0, bytesRead);
      if (this.#pending === 0) this.#settled?.();
      if (!this.destroyed) {
        this.#flush();
        this.#fill();
      }
    });
  }

  /** Pushes finished chunks in order; a short read pushes what came and asks for the rest. */
  #flush(): void {
    while (this.#wanted && !this.destroyed) {
      const head = this.#queue[0];
      if (!head || (!head.data && !head.error)) return;
      if (head.error) return void this.destroy(head.error);
      const data = head.data!;
      if (data.length === 0) {
        return void this.destroy(new FailsafeError('E_STORAGE', `sftp: the object ended ${head.length} bytes early (changed while read?)`));
      }
      if (data.length < head.length) {
        const rest: Slot = { position: head.position + data.length, length: head.length - data.length };
        this.#queue[0] = rest;
        this.#request(rest);
      } else this.#queue.shift();
      this.#wanted = this.push(data);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#unwatch();
    const finish = (): void =>
      void this.#onEnd().then(
        () => callback(error),
        () => callback(error),
      );
    if (this.#pending === 0) finish();
    else this.#settled = finish;
  }
}

export function downloadFrom(connection: Connection, handle: Buffer, start: number, end: number, onEnd: () => Promise<void>): Readable {
  return new HandleReadStream(connection, handle, start, end, onEnd);
}
