/**
 * An open pack filled on local disk instead of in memory: each sealed chunk
 * is written to a temp file as it arrives (a synchronous write into the page
 * cache, so the caller may reuse its buffer at once, as with PackBuilder),
 * the header and trailer follow at `close`, and only then is the pack read
 * back whole, into a buffer of the shared pool, to be stored: a Buffer, so
 * the store's retries and `verifyUploads` put it again as before. A backup's
 * two open packs (16 MiB each, filled over seconds) then cost no memory; only
 * the packs being stored are held (docs/performance.md, Memory). Layout,
 * entries and name are PackBuilder's.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError, fromNodeError } from '../errors.js';
import { TEMP_PREFIX } from '../fs/atomic.js';
import { newPackKey, type ClosedPack, type PackBuffers } from './builder.js';
import { encodePackTail, type ChunkKind, type PackEntry } from './format.js';

export class SpilledPack {
  #file: { path: string; fd: number } | undefined;
  readonly #entries: PackEntry[] = [];
  #length = 0;

  constructor(
    readonly targetSize: number,
    readonly buffers: PackBuffers,
    readonly dir: string,
  ) {}

  get count(): number {
    return this.#entries.length;
  }

  /** Whether the next chunk should go to a new pack. */
  get full(): boolean {
    return this.#length >= this.targetSize;
  }

  /** Writes a sealed chunk to the pack's file (the caller may reuse `sealed` at once). */
  add(id: Buffer, kind: ChunkKind, sealed: Uint8Array, plainLength: number): void {
    this.#write(sealed);
    this.#entries.push({ id: Buffer.from(id), kind, offset: this.#length, length: sealed.length, plainLength });
    this.#length += sealed.length;
  }

  /** The finished pack, read back from its file (which is removed); the bytes are the caller's until given back to `buffers`. */
  close(cipher: SegmentCipher, slots: KeySlot[]): ClosedPack {
    const entries = this.#entries.splice(0);
    const tail = encodePackTail(entries, this.#length, cipher, slots);
    this.#write(tail);
    const size = this.#length + tail.length;
    const bytes = this.buffers.take(size).subarray(0, size);
    const { fd, path } = this.#file!;
    try {
      for (let at = 0; at < size;) {
        const read = named(path, () => readSync(fd, bytes, at, size - at, at));
        if (read === 0) throw new FailsafeError('E_STORAGE', `${spillWhat(path)}: ended at ${at} of ${size} bytes (changed by another process?)`);
        at += read;
      }
    } finally {
      this.abandon();
    }
    return { key: newPackKey(), bytes, entries };
  }

  /** Removes the pack's file and forgets its chunks. */
  abandon(): void {
    if (this.#file) {
      closeSync(this.#file.fd);
      rmSync(this.#file.path, { force: true });
    }
    this.#file = undefined;
    this.#entries.length = 0;
    this.#length = 0;
  }

  #write(bytes: Uint8Array): void {
    if (!this.#file) {
      const path = join(this.dir, `${TEMP_PREFIX}pack-${randomBytes(8).toString('hex')}`);
      this.#file = { path, fd: named(path, () => openSync(path, 'wx+', 0o600)) };
    }
    const { fd, path } = this.#file;
    const position = this.#length;
    for (let at = 0; at < bytes.length;) at += named(path, () => writeSync(fd, bytes, at, bytes.length - at, position + at));
  }
}

const spillWhat = (path: string): string => `the pack being filled in the cache folder (${path})`;

/** A failed open, write or read of the spill file names it: a full or read-only cache disk is not the target's. */
function named<T>(path: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw fromNodeError(err, spillWhat(path));
  }
}
