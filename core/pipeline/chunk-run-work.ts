/**
 * A restore's work on a run of chunks of one pack, in a segment worker
 * (core/pipeline/segment-worker.ts): the run's sealed bytes arrive in one
 * piece (or are read here from the local pack file in one read), each chunk
 * is opened in place, decompressed straight into a shared buffer of the
 * restore's pool and checked against its keyed id. One message and one read
 * per run instead of per chunk, and no plaintext allocated, moved or
 * collected: a chunk-at-a-time restore spent more time in postMessage and
 * garbage collection than in its cipher (docs/performance.md).
 */
import { chunkId, CHUNK_ID_BYTES } from '../chunking/chunk-id.js';
import { readSync } from 'node:fs';
import { FailsafeError } from '../errors.js';
import { withStoredFile } from './stored-file.js';
import { chunkContext } from '../pack/format.js';
import { cipherFor } from './chunk-work.js';
import { asBuffer, type SegmentTools } from './segment-work.js';

/** What a restore's workers keep for every run request, sent once: posting shared memory costs far more per message than a number. */
export interface RestoreSetup {
  /** The buffers plaintexts are written into, all `slotSize` bytes. */
  slots: SharedArrayBuffer[];
  idKey: Uint8Array;
}

/** Bytes of a local pack file, read by the worker itself. */
export interface PackRead {
  file: string;
  offset: number;
  length: number;
  /** `<target>:<pack key>`, for messages. */
  what: string;
}

export interface ChunkRunRequest {
  /** The run's sealed bytes one after another (moved to the worker), or the local pack file pieces to read for them, in order. */
  sealed: Uint8Array | PackRead[];
  /** Per pack of the run: its run key (from its trailer's key slots) and `<target>:<pack key>`, for messages. */
  packs: { key: Uint8Array; what: string }[];
  /** The chunks' ids, 32 bytes each, in run order. */
  ids: Uint8Array;
  /** Per chunk four numbers: where its sealed bytes start in `sealed`, their length, its plaintext's length, and its pack (in `packs`). */
  spans: Uint32Array;
  /** The shared slot the plaintexts go into, one after another from its start. */
  slot: number;
}

/** The plaintexts' lengths, in run order (each checked against its id). */
export function openChunkRun(t: SegmentTools, setup: RestoreSetup | undefined, request: ChunkRunRequest): Uint32Array {
  const slot = setup?.slots[request.slot];
  if (!setup || !slot) throw new FailsafeError('E_INTERNAL', `restore slot ${request.slot} was never shared with this worker`);
  const { sealed: from, spans, packs } = request;
  // Read or moved here: this thread's own bytes, so each chunk is opened where it lies.
  const sealed = from instanceof Uint8Array ? asBuffer(from) : readPieces(from);
  const out = Buffer.from(slot);
  const count = spans.length / 4;
  const lengths = new Uint32Array(count);
  let filled = 0;
  for (let i = 0; i < count; i++) {
    const [start, length, plainLength, pack] = spans.subarray(i * 4, i * 4 + 4) as unknown as [number, number, number, number];
    const id = asBuffer(request.ids.subarray(i * CHUNK_ID_BYTES, (i + 1) * CHUNK_ID_BYTES));
    const piece = sealed.subarray(start, start + length);
    const { key, what } = packs[pack] ?? { key: new Uint8Array(0), what: 'a pack' };
    if (piece.length !== length || filled + plainLength > out.length) {
      throw new FailsafeError('E_CORRUPT', `${what}: chunk ${id.toString('hex')} lies outside the bytes read`);
    }
    const compressed = piece.subarray(0, cipherFor(key).decryptInto(piece, chunkContext(id), piece));
    const plain = t.decompress(compressed, plainLength, out.subarray(filled, filled + plainLength));
    if (!chunkId(setup.idKey, plain).equals(id)) throw new FailsafeError('E_CHECKSUM', `${what}: chunk ${id.toString('hex')} does not match its id`);
    lengths[i] = plain.length;
    filled += plain.length;
  }
  return lengths;
}

let readBuffer: Buffer | undefined;

/**
 * Pieces of local pack files read one after another into this thread's reused
 * buffer (valid until the next run): no allocation, and no round trip through
 * the main thread. A file that ends before a piece does fails as a damaged
 * read (E_CHECKSUM), as a chunk cut short would.
 */
function readPieces(pieces: PackRead[]): Buffer {
  const total = pieces.reduce((sum, p) => sum + p.length, 0);
  if (!readBuffer || readBuffer.length < total) readBuffer = Buffer.allocUnsafeSlow(Math.max(total, 4 << 20));
  let at = 0;
  for (const { file, offset, length, what } of pieces) {
    const into = readBuffer;
    withStoredFile(file, what, (fd) => {
      for (let filled = 0; filled < length;) {
        const n = readSync(fd, into, at + filled, length - filled, offset + filled);
        if (n === 0) throw new FailsafeError('E_CHECKSUM', `${what} ends at ${offset + filled}, before the chunks the index places up to ${offset + length}`);
        filled += n;
      }
    });
    at += length;
  }
  return readBuffer.subarray(0, total);
}
