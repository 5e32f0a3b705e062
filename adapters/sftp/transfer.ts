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

/** Bytes per request: OpenSSH accepts up to 256 KiB, every server 32 KiB. */
export const CHUNK = 32 * 1024;
/** Requests in flight per transfer. */
export const WINDOW = 64;

type Callback<T> = (err: Error | null | undefined, value: T) => void;
function call<T>(run: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}

export const sftpOps = {
  open: (sftp: SFTPWrapper, path: string, flags: OpenMode): Promise<Buffer> => call((done) => sftp.open(path, flags, done)),
  close: (sftp: SFTPWrapper, handle: Buffer): Promise<void> => call((done) => sftp.close(handle, (err) => done(err, undefined))),
  fstat: (sftp: SFTPWrapper, handle: Buffer): Promise<Stats> => call((done) => sftp.fstat(handle, done)),
  stat: (sftp: SFTPWrapper, path: string): Promise<Stats> => call((done) => sftp.stat(path, done)),
  unlink: (sftp: SFTPWrapper, path: string): Promise<void> => call((done) => sftp.unlink(path, (err) => done(err, undefined))),
  rmdir: (sftp: SFTPWrapper, path: string): Promise<void> => call((done) => sftp.rmdir(path, (err) => done(err, undefined))),
  rename: (sftp: SFTPWrapper, from: string, to: string): Promise<void> => call((done) => sftp.ext_openssh_rename(from, to, (err) => done(err, undefined))),
  mkdir: (sftp: SFTPWrapper, path: string): Promise<void> => call((done) => sftp.mkdir(path, (err) => done(err, undefined))),
  readdir: (sftp: SFTPWrapper, path: string): Promise<FileEntryWithStats[]> => call((done) => sftp.readdir(path, done)),
  fsync: (sftp: SFTPWrapper, handle: Buffer): Promise<void> => call((done) => sftp.ext_openssh_fsync(handle, (err) => done(err, undefined))),
};

function writeAt(sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => sftp.write(handle, data, 0, data.length, position, (err) => (err ? reject(err) : resolve())));
}

function readAt(sftp: SFTPWrapper, handle: Buffer, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sftp.read(handle, Buffer.allocUnsafe(length), 0, length, position, (err, bytesRead, buffer) => (err ? reject(err) : resolve(buffer.subarray(0, bytesRead)))),
  );
}

/** Writes `body` to the open handle with pipelined requests; resolves with the bytes written. */
export async function uploadTo(sftp: SFTPWrapper, handle: Buffer, body: Readable | Buffer, signal?: AbortSignal): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let position = 0;
  const send = async (data: Buffer): Promise<void> => {
    while (inFlight.size >= WINDOW) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    signal?.throwIfAborted();
    const request: Promise<void> = writeAt(sftp, handle, data, position).then(
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

/**
 * The bytes `start`..`end` (inclusive) of the open handle, read ahead with
 * pipelined requests. `onEnd` runs once the stream is done or destroyed.
 */
export function downloadFrom(sftp: SFTPWrapper, handle: Buffer, start: number, end: number, onEnd: () => Promise<void>): Readable {
  const total = Math.max(end - start + 1, 0);
  async function* chunks(): AsyncGenerator<Buffer> {
    const queue: { position: number; length: number; data: Promise<Buffer> }[] = [];
    let next = start;
    const fill = (): void => {
      while (queue.length < WINDOW && next < start + total) {
        const length = Math.min(CHUNK, start + total - next);
        const data = readAt(sftp, handle, length, next);
        data.catch(() => undefined); // observed when its turn comes
        queue.push({ position: next, length, data });
        next += length;
      }
    };
    try {
      fill();
      while (queue.length > 0) {
        const head = queue.shift()!;
        fill();
        let data = await head.data;
        // A short read (the server may send less than asked): fetch the rest before moving on.
        while (data.length < head.length) {
          const more = await readAt(sftp, handle, head.length - data.length, head.position + data.length);
          if (more.length === 0) throw new FailsafeError('E_STORAGE', `sftp: the object ended ${head.length - data.length} bytes early (changed while read?)`);
          data = Buffer.concat([data, more]);
        }
        yield data;
      }
    } finally {
      await Promise.allSettled(queue.map((q) => q.data));
      await onEnd();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: CHUNK * 4 });
}
