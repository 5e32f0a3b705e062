/**
 * A pack filled on local disk instead of in memory: each sealed chunk is
 * written to a temp file as it arrives and dropped, the header and trailer
 * follow at `close`, and only then is the pack read back whole to be stored
 * (a Buffer, so the store's retries and `verifyUploads` put it again as
 * before). A backup's two open packs (16 MiB each, filled over seconds) then
 * cost no memory; what is held whole is the packs being stored
 * (docs/performance.md, Memory). The layout and entries are PackBuilder's;
 * the name is chosen when the pack opens, as random.
 */
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { TEMP_PREFIX, writeStreamTo } from '../fs/atomic.js';
import { newPackKey } from './builder.js';
import { encodePackTail, type ChunkKind, type PackEntry } from './format.js';

/** What the file write may lag behind the chunks given: `add` waits beyond it. */
const BUFFERED = 1 << 20;

export interface ClosedSpilledPack {
  key: string;
  bytes: Buffer;
  entries: PackEntry[];
}

export class SpilledPack {
  readonly key = newPackKey();
  readonly #file: string;
  readonly #entries: PackEntry[] = [];
  readonly #body = new PassThrough({ highWaterMark: BUFFERED });
  readonly #written: Promise<void>;
  #length = 0;
  #failed: unknown;

  constructor(
    readonly targetSize: number,
    dir: string,
  ) {
    this.#file = join(dir, `${TEMP_PREFIX}pack-${randomBytes(8).toString('hex')}`);
    // A write after a failed spill errs too: the spill's rejection is what reports it.
    this.#body.on('error', () => undefined);
    this.#written = this.#spill();
    this.#written.catch((err: unknown) => {
      this.#failed ??= err;
      this.#body.destroy();
    });
  }

  async #spill(): Promise<void> {
    const handle = await open(this.#file, 'wx', 0o600);
    try {
      await writeStreamTo(handle, this.#body);
    } finally {
      await handle.close();
    }
  }

  get count(): number {
    return this.#entries.length;
  }

  /** Whether the next chunk should go to a new pack. */
  get full(): boolean {
    return this.#length >= this.targetSize;
  }

  /** Appends a sealed chunk; resolves once the write has room for more (rejects when the spill failed). */
  add(id: Buffer, kind: ChunkKind, sealed: Buffer, plainLength: number): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    this.#entries.push({ id: Buffer.from(id), kind, offset: this.#length, length: sealed.length, plainLength });
    this.#length += sealed.length;
    if (this.#body.write(sealed)) return Promise.resolve();
    // No 'drain' comes once the pack is ended (`close`): the spill's end answers for the chunks written before it.
    return new Promise<void>((resolve, reject) => {
      this.#body.once('drain', resolve);
      this.#written.then(() => resolve(), reject);
    });
  }

  /**
   * Writes the header and trailer, then reads the whole pack back into the start of `room(size)` (the caller's
   * reused buffer: a fresh 16 MiB per pack would wait for a full collection to be freed) and removes its file.
   */
  async close(cipher: SegmentCipher, slots: KeySlot[], room: (size: number) => Buffer): Promise<ClosedSpilledPack> {
    const tail = encodePackTail(this.#entries, this.#length, cipher, slots);
    this.#body.end(tail);
    try {
      await this.#written;
      const size = this.#length + tail.length;
      const bytes = room(size).subarray(0, size);
      const handle = await open(this.#file, 'r');
      try {
        for (let at = 0; at < size;) {
          const { bytesRead } = await handle.read(bytes, at, size - at, at);
          if (bytesRead === 0) throw new Error(`the pack's spill file ended at ${at} of ${size} bytes`);
          at += bytesRead;
        }
      } finally {
        await handle.close();
      }
      return { key: this.key, bytes, entries: this.#entries };
    } finally {
      await rm(this.#file, { force: true });
    }
  }

  /** Ends the spill and removes its file; resolves once it has. */
  async abandon(): Promise<void> {
    this.#body.destroy(new Error('the pack was abandoned'));
    await this.#written.catch(() => undefined);
    await rm(this.#file, { force: true });
  }
}
