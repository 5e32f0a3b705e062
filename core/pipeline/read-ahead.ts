/**
 * Reads small files ahead of the consumer: while the pipeline packs one
 * entry, the next few small files are already being read, several at once.
 * One file at a time, a small file costs more in thread-pool round trips
 * (open, read, stat, close) than in bytes. Memory stays bounded by
 * `files × fileSize`. Errors of a file read ahead surface when its body is
 * read, as they would without read-ahead.
 */
import { Readable } from 'node:stream';
import type { SourceEntry } from '../contracts.js';

export interface ReadAheadOptions {
  /** Entries held ahead of the consumer. */
  files: number;
  /** Only files up to this size are read ahead. */
  fileSize: number;
}

interface Held {
  entry: SourceEntry;
  body?: Promise<Buffer[]>;
}

export async function* readAhead(entries: AsyncIterable<SourceEntry>, options: ReadAheadOptions): AsyncGenerator<SourceEntry> {
  const held: Held[] = [];
  try {
    for await (const entry of entries) {
      held.push(start(entry, options.fileSize));
      if (held.length > options.files) yield settle(held.shift()!);
    }
    while (held.length > 0) yield settle(held.shift()!);
  } finally {
    // No read outlives the walk, whether it ended or was abandoned.
    await Promise.allSettled(held.map((h) => h.body));
  }
}

function start(entry: SourceEntry, fileSize: number): Held {
  const open = entry.open;
  if (entry.type !== 'file' || open === undefined || entry.size > fileSize) return { entry };
  const body = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of open() as AsyncIterable<Buffer>) chunks.push(chunk);
    return chunks;
  })();
  body.catch(() => undefined); // observed when the body is read
  return { entry, body };
}

function settle({ entry, body }: Held): SourceEntry {
  if (body === undefined) return entry;
  return { ...entry, open: () => Readable.from(chunksOf(body), { objectMode: false }) };
}

async function* chunksOf(body: Promise<Buffer[]>): AsyncGenerator<Buffer> {
  yield* await body;
}
