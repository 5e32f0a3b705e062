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

export class PackBuilder {
  readonly #parts: Buffer[] = [];
  readonly #entries: PackEntry[] = [];
  #length = 0;

  constructor(readonly targetSize = DEFAULT_PACK_SIZE) {}

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

  /** Appends a sealed chunk; returns where it lies in the pack. */
  add(id: Buffer, kind: ChunkKind, sealed: Buffer, plainLength: number): PackEntry {
    const entry: PackEntry = { id: Buffer.from(id), kind, offset: this.#length, length: sealed.length, plainLength };
    this.#parts.push(sealed);
    this.#entries.push(entry);
    this.#length += sealed.length;
    return entry;
  }

  /** The finished pack: its chunks, then its header sealed with `cipher` and the data key's `slots`. Empties the builder. */
  close(cipher: SegmentCipher, slots: KeySlot[]): ClosedPack {
    const entries = this.#entries.splice(0);
    const tail = encodePackTail(entries, this.#length, cipher, slots);
    const bytes = Buffer.concat([...this.#parts.splice(0), tail]);
    this.#length = 0;
    return { key: newPackKey(), bytes, entries };
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
