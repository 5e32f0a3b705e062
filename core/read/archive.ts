/**
 * Walks a snapshot's tar stream entry by entry, checking every entry against
 * the manifest (it must be listed, with the same type and size) and every
 * file's bytes against its SHA-256. A small file's body is read whole and
 * checked before its entry is handed out (`content`); a larger one is
 * checked as it streams past, and fails its `body` at the end on a mismatch.
 * A body the consumer leaves unread is still read and checked before the
 * next entry.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RestoreEntry } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { ManifestEntry } from '../format/manifest.js';
import { normalizeArchivePath } from '../fs/paths.js';
import { FileHasher } from './file-hasher.js';
import type { PooledChunks } from './segments.js';
import { KNOWN_TYPES, padding, TarReader } from './tar-reader.js';

/** Bodies up to this size are read whole and checked before their entry is handed out. */
export const WHOLE_BODY = 256 * 1024;

export interface ArchiveEntry extends RestoreEntry {
  source: string;
  record: ManifestEntry;
}

/**
 * Whether archiveEntries checks every byte that reaches a file: every file has
 * its SHA-256 in the manifest, and every other entry is made from the manifest.
 */
export function checksEveryFile(manifestEntries: ManifestEntry[]): boolean {
  return manifestEntries.every((e) => e.type !== 'file' || e.sha256 !== undefined);
}

export interface ArchiveOptions {
  /**
   * Hash the larger files on a thread of their own (core/read/file-hasher.ts)
   * instead of this one: for a restore, whose main thread has the files to
   * write. Small files are still checked here, before their entry is handed out.
   */
  hashThread?: boolean;
}

/** Entries of the tar stream in order; each body must be consumed before asking for the next entry. */
export async function* archiveEntries(
  tarStream: Readable,
  manifestEntries: ManifestEntry[],
  what: string,
  options: ArchiveOptions = {},
): AsyncGenerator<ArchiveEntry> {
  const index = new Map(manifestEntries.map((e) => [`${e.source}/${e.path}`, e]));
  // Pooled chunks are reused once the reader moves past them: what a consumer may keep is copied out first.
  const release = (tarStream as Readable & Partial<PooledChunks>).releaseChunk;
  // Made at the first file it is for, taking the thread Failsafe.restore started ahead when there is one.
  let hasher: FileHasher | undefined;
  // A chunk the hashing thread still reads goes back to the pool only once it is hashed.
  const retire = release && options.hashThread ? (chunk: Buffer) => (hasher ? hasher.whenHashed(chunk.buffer, () => release(chunk)) : release(chunk)) : release;
  const reader = new TarReader(tarStream, what, retire);
  const kept = release ? (bytes: Buffer) => Buffer.from(bytes) : (bytes: Buffer) => bytes;
  try {
    for (let header = await reader.next(); header; header = await reader.next()) {
      const name = header.name.replace(/\/$/, '');
      // A hard link, device or FIFO has no body to check: never let one pass as an empty file.
      if (!KNOWN_TYPES.has(header.type)) {
        throw new FailsafeError('E_CORRUPT', `${what}: archive entry "${name}" is a ${header.type}, which Failsafe never writes`);
      }
      const record = index.get(name);
      if (!record || record.type !== header.type) {
        throw new FailsafeError('E_CORRUPT', `${what}: archive entry "${name}" does not match the manifest`);
      }
      // Defence in depth: plugins refuse unsafe paths too, but none should ever see one.
      normalizeArchivePath(record.path);
      const entry: ArchiveEntry = {
        source: record.source,
        record,
        path: record.path,
        type: record.type,
        size: record.size,
        mode: record.mode,
        mtime: new Date(record.mtime),
        ...optionalFields(record),
      };
      if (record.type !== 'file') {
        await reader.skip(header.size + padding(header.size));
        yield entry;
        continue;
      }
      const threaded = options.hashThread === true && header.size > WHOLE_BODY && record.sha256 !== undefined;
      const body = new FileBody(reader, record, header.size, what, threaded ? (hasher ??= new FileHasher()) : undefined);
      let settle: (() => void) | undefined;
      if (header.size <= WHOLE_BODY) {
        settle = smallFile(entry, await body.whole(), kept);
      } else {
        // A stream reads ahead, so its chunks are copies when the segments are pooled; `chunks` are not.
        lazyBody(entry, () => Readable.from(mapChunks(body.slices(), kept), { objectMode: false }));
        entry.chunks = () => body.slices();
      }
      yield entry;
      settle?.();
      // A consumer that skipped (or stopped reading) the body still lets the archive advance, checked.
      await body.finish();
      await reader.skip(padding(header.size));
    }
  } finally {
    await reader.close();
    tarStream.destroy();
    await hasher?.close();
  }
}

/** The fields of an entry that the manifest records only when it has them. */
function optionalFields(record: ManifestEntry): Pick<ArchiveEntry, 'linkTarget' | 'uid' | 'gid' | 'hardLink' | 'sparse'> {
  return {
    ...(record.linkTarget === undefined ? {} : { linkTarget: record.linkTarget }),
    ...(record.uid === undefined ? {} : { uid: record.uid }),
    ...(record.gid === undefined ? {} : { gid: record.gid }),
    ...(record.hardLink === undefined ? {} : { hardLink: record.hardLink }),
    ...(record.sparse ? { sparse: true } : {}),
  };
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

async function* mapChunks(chunks: AsyncIterable<Buffer>, map: (chunk: Buffer) => Buffer): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield map(chunk);
}

/**
 * A small file's checked bytes: `chunks` hands them out as they are (valid
 * until the next entry is asked for); `content` and `body` as a copy when the
 * reader reuses its chunks, made on first use or, if neither was used nor
 * `chunks` asked for, when the consumer comes back (`settle`), so that using
 * them later still sees the right bytes.
 */
function smallFile(entry: ArchiveEntry, bytes: Buffer, kept: (bytes: Buffer) => Buffer): () => void {
  let copy: Buffer | undefined;
  let zeroCopy = false;
  const content = (): Buffer => (copy ??= kept(bytes));
  Object.defineProperty(entry, 'content', { enumerable: true, configurable: true, get: content });
  lazyBody(entry, () => Readable.from([content()], { objectMode: false }));
  entry.chunks = () => {
    zeroCopy = true;
    return once(bytes);
  };
  return () => {
    if (!zeroCopy) content();
  };
}

/** `body` is made on first use: most consumers of small files take `content`. */
function lazyBody(entry: ArchiveEntry, make: () => Readable): void {
  let body: Readable | undefined;
  Object.defineProperty(entry, 'body', { enumerable: true, configurable: true, get: () => (body ??= make()) });
}

/** One file's bytes out of the reader, hashed on the way and checked once all are read. */
class FileBody {
  readonly #reader: TarReader;
  readonly #record: ManifestEntry;
  readonly #what: string;
  readonly #hash;
  /** Hashed on the hashing thread instead, as this file's id there. */
  readonly #thread: { hasher: FileHasher; file: number } | undefined;
  #left: number;
  #mismatch: boolean | undefined;

  constructor(reader: TarReader, record: ManifestEntry, size: number, what: string, hasher?: FileHasher) {
    this.#reader = reader;
    this.#record = record;
    this.#what = what;
    this.#left = size;
    const hashed = record.sha256 !== undefined;
    this.#thread = hashed && hasher ? { hasher, file: hasher.begin() } : undefined;
    this.#hash = hashed && !this.#thread ? createHash('sha256') : undefined;
    if (size !== record.size) this.#mismatch = true;
  }

  /** Small files only: hashed here, so the bytes are checked before their entry is handed out. */
  async whole(): Promise<Buffer> {
    const content = await this.#reader.read(this.#left);
    this.#left = 0;
    this.#hash?.update(content);
    await this.#check();
    return content;
  }

  async *slices(): AsyncGenerator<Buffer> {
    while (this.#left > 0) yield await this.#next();
    await this.#check();
  }

  async finish(): Promise<void> {
    while (this.#left > 0) await this.#next();
    await this.#check();
  }

  async #next(): Promise<Buffer> {
    const slice = await this.#reader.slice(this.#left);
    this.#left -= slice.length;
    if (this.#thread) this.#thread.hasher.update(this.#thread.file, slice);
    else this.#hash?.update(slice);
    return slice;
  }

  async #check(): Promise<void> {
    if (this.#mismatch === undefined) {
      const hex = this.#thread ? await this.#thread.hasher.digest(this.#thread.file) : this.#hash?.digest('hex');
      this.#mismatch = hex !== undefined && hex !== this.#record.sha256;
    }
    if (this.#mismatch) {
      throw new FailsafeError('E_CHECKSUM', `${this.#what}: checksum mismatch for ${this.#record.source}/${this.#record.path}`);
    }
  }
}
