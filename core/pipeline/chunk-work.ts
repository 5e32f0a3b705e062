/**
 * The CPU work on one chunk of a deduplicating (v2) repository, as plain
 * synchronous functions the segment workers run (core/pipeline/segment-worker.ts):
 * its keyed id, then — only when the main thread found the id new — its
 * compression and sealing; and the reverse for a restore, checked against
 * the id. On a 2-core machine the main thread otherwise does all of it while
 * the second core idles (docs/performance.md).
 */
import { chunkId } from '../chunking/chunk-id.js';
import type { SegmentCipher } from '../contracts.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { FailsafeError } from '../errors.js';
import { chunkContext } from '../pack/format.js';
import type { ChunkSizes } from '../chunking/fastcdc.js';
import type { IdTable } from '../repository/id-table.js';
import { asBuffer, type SegmentTools } from './segment-work.js';

/**
 * What a backup's workers keep for every chunk request: the shared buffers
 * chunks are cut into (sent once: posting shared memory costs far more per
 * message than two numbers) and the repository's id key.
 */
export interface ChunkingSetup {
  slots: SharedArrayBuffer[];
  idKey: Uint8Array;
  /** For whole local files cut in the workers (core/pipeline/file-chunk-work.ts). */
  files?: FileChunkingSetup;
}

/** What a worker keeps for a backup's file jobs, sent once with the chunking setup. */
export interface FileChunkingSetup {
  idKey: Uint8Array;
  gear: Uint32Array;
  sizes: ChunkSizes;
  /** The repository's index as the run began. */
  known: IdTable;
  /** Cell 0: the run stopped. Cell `lane + 1`: that worker's credits for sealed chunks in flight. */
  credits: Int32Array;
  /** Where each worker seals its new chunks: its lane's memory, one slot per credit (SegmentWorkers.shareChunking). */
  sealed?: SealedSlots;
}

/**
 * Shared memory a worker seals chunks into, so that a sealed chunk is neither
 * allocated nor moved: the main thread copies it into its pack and gives the
 * credit back. A worker uses its slots in turn; holding a credit, it holds a
 * slot no chunk still being copied uses (at most `slots` chunks are out).
 */
export interface SealedSlots {
  /** One per worker lane, `slots * slotBytes` long. */
  lanes: SharedArrayBuffer[];
  slots: number;
  slotBytes: number;
}

/** Slot `slot` of `lane`: `length` sealed bytes. */
export function sealedSlotBytes(sealed: SealedSlots, lane: number, slot: number, length: number): Buffer {
  return Buffer.from(sealed.lanes[lane]!, slot * sealed.slotBytes, length);
}

export interface ChunkHashRequest {
  /** The chunk is the first `length` bytes of this slot, which the main thread reuses once the reply is in. */
  slot: number;
  length: number;
  /** Compress and seal it under the worker's run key too, with this id (from an earlier hash request). */
  sealAs?: Uint8Array;
}

export type ChunkHashResult = { id: Uint8Array; sealed?: Uint8Array };

export function hashOrSealChunk(t: SegmentTools, setup: ChunkingSetup | undefined, request: ChunkHashRequest): { id: Buffer; sealed?: Buffer } {
  const slot = setup?.slots[request.slot];
  if (!slot) throw new FailsafeError('E_INTERNAL', `chunk slot ${request.slot} was never shared with this worker`);
  const plain = Buffer.from(slot, 0, request.length);
  if (!request.sealAs) return { id: chunkId(setup.idKey, plain) };
  const id = asBuffer(request.sealAs);
  return { id, sealed: sealChunk(t, id, plain) };
}

/**
 * A chunk compressed and sealed under the worker's run key: into `room` when it fits there, else into a buffer of
 * its own (to be moved to the main thread).
 */
export function sealChunk(t: SegmentTools, id: Buffer, plain: Buffer, room?: Buffer): Buffer {
  const compressed = t.compressScratch(plain);
  const size = t.cipher.sealedSize(compressed.length);
  const sealed = room && room.length >= size ? room.subarray(0, size) : Buffer.allocUnsafeSlow(size);
  t.cipher.encryptInto(compressed, chunkContext(id), sealed);
  return sealed;
}

export interface ChunkOpenRequest {
  /** The sealed bytes, or where they lie in a local pack file, for the worker to read itself (no trip through the main thread). */
  sealed: Uint8Array | { file: string; offset: number; length: number };
  /** The run key of the chunk's pack (from its trailer's key slots). */
  key: Uint8Array;
  id: Uint8Array;
  idKey: Uint8Array;
  plainLength: number;
  /** `<target>:<pack key>`, for messages. */
  what: string;
}

/** The run keys a worker has seen: a restore reads few packs' keys many times, so their ciphers are kept. */
const ciphers = new Map<string, SegmentCipher>();

function cipherFor(key: Uint8Array): SegmentCipher {
  const name = Buffer.from(key).toString('hex');
  let cipher = ciphers.get(name);
  if (!cipher) {
    if (ciphers.size >= 256) ciphers.clear();
    cipher = new SecretstreamCipher(key);
    ciphers.set(name, cipher);
  }
  return cipher;
}

export function openChunk(t: SegmentTools, request: ChunkOpenRequest, read: (file: string, offset: number, length: number) => Buffer): Buffer {
  const id = asBuffer(request.id);
  const { sealed: from } = request;
  const sealed = from instanceof Uint8Array ? asBuffer(from) : read(from.file, from.offset, from.length);
  const plain = t.decompress(cipherFor(request.key).decrypt(sealed, chunkContext(id)), request.plainLength);
  if (!chunkId(request.idKey, plain).equals(id)) throw new FailsafeError('E_CHECKSUM', `${request.what}: chunk ${id.toString('hex')} does not match its id`);
  return plain;
}
