/**
 * Reads small local files ahead of the tar writer: while it writes one
 * entry, the next few small files (SourceEntry.localFile) are already being
 * read, several at once, each into a buffer of a small pool. One file at a
 * time, a small file costs more in thread-pool round trips (open, read,
 * stat, close) than in bytes. Memory stays bounded by `files × fileSize`.
 * Errors of a file read ahead, or of listing the entries, surface when the
 * writer reaches them, as they would without read-ahead.
 */
import type { SourceEntry } from '../contracts.js';
import { readSmallFile, type SmallRead } from './local-file.js';

export interface ReadAheadOptions {
  /** The source's name, for errors. */
  source: string;
  /** Entries held ahead of the consumer. */
  files: number;
  /** Only files up to this size are read ahead. */
  fileSize: number;
}

export interface AheadEntry {
  entry: SourceEntry;
  /** A small local file's bytes, read ahead: `bytes` holds them; `release()` once they are copied. */
  body?: Promise<SmallRead & { bytes: Buffer; release(): void }>;
}

export async function* readAhead(entries: AsyncIterable<SourceEntry>, options: ReadAheadOptions): AsyncGenerator<AheadEntry> {
  const free: Buffer[] = [];
  const start = (entry: SourceEntry): AheadEntry => {
    const file = entry.localFile;
    if (entry.type !== 'file' || file === undefined || entry.size > options.fileSize) return { entry };
    const buffer = free.pop() ?? Buffer.allocUnsafeSlow(options.fileSize);
    const release = (): void => void free.push(buffer);
    const body = readSmallFile({ source: options.source, file, size: entry.size, mtime: entry.mtime }, buffer).then(
      (read) => ({ ...read, bytes: buffer.subarray(0, read.length), release }),
      (err: unknown) => {
        release();
        throw err;
      },
    );
    body.catch(() => undefined); // observed when the writer reaches it
    return { entry, body };
  };
  const held: AheadEntry[] = [];
  try {
    try {
      for await (const entry of entries) {
        held.push(start(entry));
        if (held.length > options.files) yield held.shift()!;
      }
    } catch (err) {
      // The source failed listing an entry the writer has not reached: it still gets the ones before.
      while (held.length > 0) yield held.shift()!;
      throw err;
    }
    while (held.length > 0) yield held.shift()!;
  } finally {
    // No read outlives the walk, whether it ended or was abandoned.
    await Promise.allSettled(held.map((h) => h.body));
  }
}
