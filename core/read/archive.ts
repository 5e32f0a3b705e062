/**
 * Walks a snapshot's tar stream entry by entry, checking every entry against
 * the manifest (it must be listed, with the same type and size) and every
 * file's bytes against its SHA-256 as they stream past.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { extract as tarExtract, type Header } from 'tar-stream';

/** One entry of tar-stream's extract iterator (its type is not exported). */
type TarEntry = Readable & { header: Header };
import type { RestoreEntry } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { ManifestEntry } from '../format/manifest.js';
import { normalizeArchivePath } from '../paths.js';

export interface ArchiveEntry extends RestoreEntry {
  source: string;
  record: ManifestEntry;
}

/** Entries of the tar stream in order; each body must be consumed before asking for the next entry. */
export async function* archiveEntries(tarStream: Readable, manifestEntries: ManifestEntry[], what: string): AsyncGenerator<ArchiveEntry> {
  const index = new Map(manifestEntries.map((e) => [`${e.source}/${e.path}`, e]));
  const extract = tarExtract();
  tarStream.on('error', (err) => extract.destroy(err));
  tarStream.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const item of extract as AsyncIterable<TarEntry>) {
      const { header } = item;
      const name = header.name.replace(/\/$/, '');
      const record = index.get(name);
      if (!record || record.type !== header.type) {
        throw new FailsafeError('E_CORRUPT', `${what}: archive entry "${name}" does not match the manifest`);
      }
      // Defence in depth: plugins refuse unsafe paths too, but none should ever see one.
      normalizeArchivePath(record.path);
      const body = record.type === 'file' ? item.pipe(new ChecksumCheck(record, what)) : undefined;
      if (!body) item.resume();
      yield {
        source: record.source,
        record,
        path: record.path,
        type: record.type,
        size: record.size,
        mode: record.mode,
        mtime: new Date(record.mtime),
        ...(record.linkTarget === undefined ? {} : { linkTarget: record.linkTarget }),
        ...(record.uid === undefined ? {} : { uid: record.uid }),
        ...(record.gid === undefined ? {} : { gid: record.gid }),
        ...(body === undefined ? {} : { body }),
      };
      // A consumer that skipped the body still lets the archive advance.
      if (body && !body.readableEnded) body.resume();
      if (body) await finishedOrError(body);
    }
  } finally {
    extract.destroy();
    tarStream.destroy();
  }
}

class ChecksumCheck extends Transform {
  readonly #hash = createHash('sha256');
  readonly #record: ManifestEntry;
  readonly #what: string;
  #size = 0;

  constructor(record: ManifestEntry, what: string) {
    super({ highWaterMark: 1024 * 1024 });
    this.#record = record;
    this.#what = what;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.#hash.digest('hex');
    if (this.#size !== this.#record.size || (this.#record.sha256 !== undefined && digest !== this.#record.sha256)) {
      callback(new FailsafeError('E_CHECKSUM', `${this.#what}: checksum mismatch for ${this.#record.source}/${this.#record.path}`));
      return;
    }
    callback();
  }
}

function finishedOrError(stream: Readable): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', reject);
  });
}
