/**
 * Fills packs: sealed chunks are appended until the pack reaches its target
 * size, then the pack is closed with its header (core/pack/format.ts). A
 * pack's name is random, never derived from its content: a name must not
 * reveal what a pack holds.
 */
import { randomBytes } from 'node:crypto';
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { decodePackHeader, decodePackTrailer, encodePackTail, TAIL_PROBE, type ChunkKind, type PackEntry } from './format.js';

/** 16 MiB, restic's default for S3: one object per chunk would be a request per MiB (docs/design/dedup.md). */
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface ClosedPack {
  /** `packs/<2 hex>/<64 hex>`. */
  key: string;
  bytes: Buffer;
  entries: PackEntry[];
}

export function newPackKey(): string {
  const name = randomBytes(32).toString('hex');
  return `packs/${name.slice(0, 2)}/${name}`;
}

/**
 * Pack-sized buffers passed from one pack to the next: a closed pack's bytes
 * come back once stored (`give`) and the next pack is written into them.
 * Before, each chunk's sealed bytes were kept as they came and concatenated
 * when the pack closed: 16 MiB allocated and copied per pack, and 1.2 GB of
 * buffers on a 1 GiB backup that V8 counts as external memory, which started
 * a full collection every 30 MB or so (41 on the main thread).
 */
export class PackBuffers {
  readonly #free: Buffer[] = [];
  /** Only buffers this pool made come back into it, never a caller's. */
  readonly #made = new WeakSet<ArrayBuffer>();

  /** `size`: the usual capacity (a pack's target, and room for its last chunk and tail); `keep`: most buffers kept. */
  constructor(
    readonly size: number,
    readonly keep = 4,
  ) {}

  /** A buffer of at least `length` bytes, its contents unspecified. */
  take(length: number): Buffer {
    const free = this.#free.pop();
    if (free && free.length >= length) return free;
    const made = Buffer.allocUnsafeSlow(Math.max(length, this.size));
    this.#made.add(made.buffer as ArrayBuffer);
    return made;
  }

  /** The bytes of a closed pack, no longer read by anyone (its put has resolved). */
  give(bytes: Buffer): void {
    const whole = bytes.buffer as ArrayBuffer;
    if (!this.#made.has(whole) || this.#free.length >= this.keep) return;
    this.#free.push(Buffer.from(whole, 0, whole.byteLength));
  }
}

export class PackBuilder {
  #buffer: Buffer | undefined;
  readonly #entries: PackEntry[] = [];
  #length = 0;

  constructor(
    readonly targetSize = DEFAULT_PACK_SIZE,
    readonly buffers = new PackBuffers(targetSize + Math.ceil(targetSize / 4)),
  ) {}

  get length(): number {
    return this.#length;
  }

  get count(): number {
    return this.#entries.length;
  }

  /** Whether the next chunk should go to a new pack. */
  get full(): boolean {
    return this.#length >= this.targetSize;
  }

  /** Copies a sealed chunk into the pack (the caller may reuse `sealed` at once); returns where it lies in the pack. */
  add(id: Buffer, kind: ChunkKind, sealed: Uint8Array, plainLength: number): PackEntry {
    const entry: PackEntry = { id: Buffer.from(id), kind, offset: this.#length, length: sealed.length, plainLength };
    this.#room(sealed.length).set(sealed, this.#length);
    this.#entries.push(entry);
    this.#length += sealed.length;
    return entry;
  }

  /**
   * The finished pack: its chunks, then its header sealed with `cipher` and the data key's `slots`. Empties the
   * builder; the bytes are the caller's until it gives them back to `buffers`.
   */
  close(cipher: SegmentCipher, slots: KeySlot[]): ClosedPack {
    const entries = this.#entries.splice(0);
    const tail = encodePackTail(entries, this.#length, cipher, slots);
    const buffer = this.#room(tail.length);
    tail.copy(buffer, this.#length);
    const bytes = buffer.subarray(0, this.#length + tail.length);
    this.#buffer = undefined;
    this.#length = 0;
    return { key: newPackKey(), bytes, entries };
  }

  /** The pack's buffer, with room for `more` bytes after those written (grown when a last chunk or a tail overshoots). */
  #room(more: number): Buffer {
    const need = this.#length + more;
    this.#buffer ??= this.buffers.take(need);
    if (this.#buffer.length < need) {
      const grown = this.buffers.take(Math.max(need, 2 * this.#buffer.length));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    return this.#buffer;
  }
}

/**
 * A pack's chunks from its bytes alone (what an index rebuild does): the
 * trailer from the end, the header it points at, opened with the cipher
 * `open` gives for the trailer's key slots.
 */
export function packEntries(bytes: Buffer, open: (slots: KeySlot[]) => SegmentCipher, what: string): PackEntry[] {
  const trailer = decodePackTrailer(bytes.subarray(Math.max(0, bytes.length - TAIL_PROBE)), bytes.length, what);
  const { offset, length } = trailer.header;
  return decodePackHeader(bytes.subarray(offset, offset + length), trailer, open(trailer.slots), what);
}
