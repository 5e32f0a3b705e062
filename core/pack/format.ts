/**
 * A pack (format v2, docs/design/dedup.md): chunks sealed one by one and
 * appended, then the pack's header — the list of its chunks, sealed — then a
 * public trailer and its length, then a magic. A reader finds the header
 * from the end with one ranged read, so an index can be rebuilt from packs
 * alone, and fetches a single chunk with another.
 *
 *   [chunk 0] … [chunk n-1] [sealed header] [trailer JSON] [u32 LE trailer length] [FSPACK02]
 *
 * The trailer holds the key slots of the run's data key (sealed for the
 * repository's secrets, or only for its recipients on a write-only host) and
 * where the sealed header lies. Everything read from a pack is untrusted:
 * decodePackTail checks every field and every bound before using it.
 */
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
import { decodeBase64 } from '../util/base64.js';

export const PACK_MAGIC = Buffer.from('FSPACK02');
const LENGTH_BYTES = 4;
/** A trailer is a few slots: anything larger is not one of ours. */
const MAX_TRAILER = 64 * 1024;
/** A header lists a pack's chunks: 16 MiB packs of 256 KiB chunks at the least are 64 entries; a 4 GiB pack of tiny tree chunks still fits. */
const MAX_HEADER = 32 * 1024 * 1024;
const MAX_ENTRIES = 1_000_000;

export type ChunkKind = 'data' | 'tree';

export interface PackEntry {
  /** The chunk id, 32 bytes. */
  id: Buffer;
  kind: ChunkKind;
  /** Where the sealed chunk starts in the pack, and its sealed length. */
  offset: number;
  length: number;
  /** Its plaintext length once opened and decompressed. */
  plainLength: number;
}

export interface PackTrailer {
  format: 2;
  /** The run's data key, wrapped for each secret (core/crypto/keys.ts). */
  slots: KeySlot[];
  header: { offset: number; length: number };
}

/** The associated data of a sealed chunk: a chunk moved into another pack position still opens, under another id it does not. */
export function chunkContext(id: Uint8Array): string {
  return `failsafe/v2/chunk/${Buffer.from(id).toString('hex')}`;
}

const HEADER_CONTEXT = 'failsafe/v2/pack-header';

/** The bytes that end a pack whose chunks (`entries`, in order) take its first `dataLength` bytes. */
/** A pack's entries as its header (and an index object) stores them: `[id base64, kind, offset, length, plainLength]` rows. */
export function entryRows(entries: PackEntry[]): unknown[][] {
  return entries.map((e) => [e.id.toString('base64'), e.kind === 'tree' ? 1 : 0, e.offset, e.length, e.plainLength]);
}

export function encodePackTail(entries: PackEntry[], dataLength: number, cipher: SegmentCipher, slots: KeySlot[]): Buffer {
  const sealed = cipher.encrypt(Buffer.from(JSON.stringify(entryRows(entries))), HEADER_CONTEXT);
  const trailer: PackTrailer = { format: 2, slots, header: { offset: dataLength, length: sealed.length } };
  const trailerBytes = Buffer.from(JSON.stringify(trailer));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32LE(trailerBytes.length);
  return Buffer.concat([sealed, trailerBytes, length, PACK_MAGIC]);
}

/**
 * The same pack with other key slots in its trailer (`keys rotate`): every
 * byte up to the end of the sealed header is kept, so chunk offsets in the
 * index stay right; only the public trailer after it is written anew.
 */
export function withTrailerSlots(pack: Buffer, slots: KeySlot[], what: string): Buffer {
  const { header } = decodePackTrailer(pack, pack.length, what);
  const trailer: PackTrailer = { format: 2, slots, header };
  const trailerBytes = Buffer.from(JSON.stringify(trailer));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32LE(trailerBytes.length);
  return Buffer.concat([pack.subarray(0, header.offset + header.length), trailerBytes, length, PACK_MAGIC]);
}

/** How many bytes from a pack's end to read first: its trailer fits in them. */
export const TAIL_PROBE = MAX_TRAILER + LENGTH_BYTES + PACK_MAGIC.length;

const corrupt = (what: string, problem: string): FailsafeError => new FailsafeError('E_CORRUPT', `${what}: not a valid pack (${problem})`);

/** Reads the trailer from the last bytes of a pack (`tail`, of a pack `packLength` long). */
export function decodePackTrailer(tail: Buffer, packLength: number, what: string): PackTrailer {
  if (tail.length < LENGTH_BYTES + PACK_MAGIC.length || !tail.subarray(tail.length - PACK_MAGIC.length).equals(PACK_MAGIC))
    throw corrupt(what, 'no pack magic at its end');
  const trailerLength = tail.readUInt32LE(tail.length - PACK_MAGIC.length - LENGTH_BYTES);
  const trailerEnd = tail.length - PACK_MAGIC.length - LENGTH_BYTES;
  if (trailerLength > MAX_TRAILER || trailerLength > trailerEnd) throw corrupt(what, `a trailer of ${trailerLength} bytes`);
  let trailer: unknown;
  try {
    trailer = JSON.parse(tail.subarray(trailerEnd - trailerLength, trailerEnd).toString('utf8'));
  } catch {
    throw corrupt(what, 'its trailer is not JSON');
  }
  return checkTrailer(trailer, packLength - PACK_MAGIC.length - LENGTH_BYTES - trailerLength, what);
}

function checkTrailer(value: unknown, headerEnd: number, what: string): PackTrailer {
  const t = value as Partial<PackTrailer> | null;
  if (typeof t !== 'object' || t === null || t.format !== 2) throw corrupt(what, 'an unknown trailer format');
  if (
    !Array.isArray(t.slots) ||
    t.slots.length > 64 ||
    !t.slots.every((s) => typeof s === 'object' && s !== null && typeof (s as { type?: unknown }).type === 'string')
  ) {
    throw corrupt(what, 'its key slots');
  }
  const header = t.header as { offset?: unknown; length?: unknown } | undefined;
  const { offset, length } = header ?? {};
  if (!isSize(offset) || !isSize(length) || length > MAX_HEADER || offset + length !== headerEnd) throw corrupt(what, 'where its header lies');
  return { format: 2, slots: t.slots, header: { offset, length } };
}

/** Opens and checks a pack's sealed header: every chunk within the data part, in order, none overlapping. */
export function decodePackHeader(sealed: Buffer, trailer: PackTrailer, cipher: SegmentCipher, what: string): PackEntry[] {
  let rows: unknown;
  try {
    rows = JSON.parse(cipher.decrypt(sealed, HEADER_CONTEXT).toString('utf8'));
  } catch (err) {
    if (err instanceof FailsafeError) throw new FailsafeError(err.code, `${what}: pack header: ${err.message}`, { cause: err });
    throw corrupt(what, 'its header is not JSON');
  }
  return checkRows(rows, trailer.header.offset, what);
}

/** Checks untrusted entry rows: each well formed, in order, none overlapping another, all within the first `dataEnd` bytes. */
export function checkRows(rows: unknown, dataEnd: number, what: string): PackEntry[] {
  if (!Array.isArray(rows) || rows.length > MAX_ENTRIES) throw corrupt(what, 'its header is not a list of chunks');
  let end = 0;
  return rows.map((row: unknown, i) => {
    const entry = checkEntry(row, what, i);
    if (entry.offset < end || entry.offset + entry.length > dataEnd) throw corrupt(what, `chunk ${i} lies outside the data or over another`);
    end = entry.offset + entry.length;
    return entry;
  });
}

function checkEntry(row: unknown, what: string, i: number): PackEntry {
  if (!Array.isArray(row) || row.length !== 5) throw corrupt(what, `chunk ${i} of its header`);
  const [id, kind, offset, length, plainLength] = row as unknown[];
  const idBytes = (typeof id === 'string' && decodeBase64(id)) || Buffer.alloc(0);
  if (idBytes.length !== 32 || (kind !== 0 && kind !== 1) || !isSize(offset) || !isSize(length) || !isSize(plainLength))
    throw corrupt(what, `chunk ${i} of its header`);
  return { id: idBytes, kind: kind === 1 ? 'tree' : 'data', offset, length, plainLength };
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
