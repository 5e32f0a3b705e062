/**
 * A download that survives its connection dropping: the bytes already
 * delivered are kept, the object is opened again on a fresh connection at the
 * next byte (a ranged read), and the stream goes on, as long as the object is
 * still the same (its version: size and modification time, or an ETag) and
 * retries remain. For the adapters with ranged reads that see their
 * connections (sftp, s3); a read that starts over (core/repository/read-again.ts)
 * stays for damaged bytes, which only the reader's check finds.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailsafeError } from '../errors.js';

export interface OpenedRead {
  stream: Readable;
  /** Size and mtime of the object, to notice a replaced object between attempts. */
  version: string;
  /** True when the stream failed because its connection died. */
  lost(err: unknown): boolean;
}

export function resumable(
  first: OpenedRead,
  start: number,
  retries: number,
  reopen: (position: number) => Promise<OpenedRead>,
  onRetry: (err: unknown) => void,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let current = first;
    let position = start;
    let attempt = 0;
    try {
      for (;;) {
        try {
          for await (const chunk of current.stream as AsyncIterable<Buffer>) {
            position += chunk.length;
            yield chunk;
          }
          return;
        } catch (err) {
          if (!current.lost(err) || attempt >= retries) throw err;
          onRetry(err);
          await sleep(250 * 2 ** attempt++);
          const next = await reopen(position);
          if (next.version !== first.version) {
            next.stream.destroy();
            throw new FailsafeError('E_STORAGE', `the object changed on the server while it was read (${first.version} → ${next.version})`, { cause: err });
          }
          current = next;
        }
      }
    } finally {
      current.stream.destroy();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
