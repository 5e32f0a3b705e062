/**
 * The CPU work on one segment, as plain synchronous functions: sealing
 * (plaintext hash → compress → encrypt → stored hash) for a backup, opening
 * (stored hash check → decrypt → decompress → plaintext hash check, see openSegment) for a
 * restore or verify. The worker threads of core/pipeline/segment-workers.ts
 * run them; nothing here may import more than node:crypto, node:zlib and the
 * codecs, so a worker starts small.
 */
import { createHash } from 'node:crypto';
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError, isFailsafeError } from '../errors.js';

export type { SegmentCodecSpec } from '../codec/stages.js';

/** The synchronous codecs of one thread. */
export interface SegmentTools {
  compress(data: Buffer): Buffer;
  /** The codec's scratch result, valid until its next call, or a view of `room` (SegmentCodec.compressScratch). */
  compressScratch(data: Buffer, room?: Buffer): Buffer;
  decompress(data: Buffer, expectedSize: number, output?: Buffer): Buffer;
  cipher: SegmentCipher;
  /** The stored bytes' checksum as hex (SHA-256 unless the job chose another). */
  checksum(data: Uint8Array): string;
}

export interface SealRequest {
  index: number;
  plain: Buffer;
  /** Authenticated context of the segment (core/repository/layout.ts segmentContext). */
  context: string;
  /** The interrupted run's record of this segment: when the plaintext still matches, nothing is sealed. */
  expect?: SegmentExpectation;
  /** Where to write the sealed bytes (shared memory the caller recycles); a new buffer when absent or too small. */
  out?: Buffer;
}

/**
 * A stored segment of an interrupted run. Its plaintext matches the one at
 * hand when sealing that with the stored object's `header` gives the stored
 * SHA-256 (sealing is a function of key, header, context and plaintext); a
 * run of an earlier version recorded the plaintext's SHA-256 instead.
 */
export interface SegmentExpectation {
  plainSize: number;
  sha256: string;
  /** `SegmentCipher.headerOf` the stored object, base64. */
  header?: string;
  plainSha256?: string;
}

export type SealResult =
  { index: number; plainSize: number; reused: true } | { index: number; plainSize: number; sha256: string; header: string; data: Buffer };

/** An open request as the pool takes it: the stored bytes, or the local file holding them (read by the worker). */
export type OpenJob = Omit<OpenRequest, 'stored'> & ({ stored: Buffer; file?: undefined } | { file: string; stored?: undefined });

export interface OpenRequest {
  stored: Buffer;
  context: string;
  storedSize: number;
  sha256: string;
  plainSize: number;
  /** Checked when present; absent when the caller checks every file's own SHA-256 instead. */
  plainSha256?: string;
  /** `<target>:<key>`, for messages. */
  what: string;
  /** Where to put the plaintext (shared memory the caller recycles, at least `plainSize` bytes); a new buffer when absent. */
  out?: Buffer;
}

/** Typed arrays cross threads as plain Uint8Arrays; the stages on either side expect Buffers over the same memory. */
export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Whether postMessage may move `view`'s memory to another thread: it is not
 * shared memory and it is the whole of its ArrayBuffer. Small buffers may be
 * slices of Node's shared allocation pool, which must never be detached.
 */
export function ownsWholeBuffer(view: Uint8Array): boolean {
  return !(view.buffer instanceof SharedArrayBuffer) && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.byteLength >= 4096;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Compresses and seals a segment, unless `expect` shows the stored object
 * already holds this plaintext. No SHA-256 of the plaintext is taken: every
 * file in it has its own, and the stored bytes' hash stands for the segment.
 */
export function sealSegment(tools: SegmentTools, request: SealRequest): SealResult {
  const { index, plain, expect } = request;
  const plainSize = plain.length;
  if (expect && expect.plainSize === plainSize) {
    if (expect.plainSha256 !== undefined) {
      if (sha256Hex(plain) === expect.plainSha256) return { index, plainSize, reused: true };
    } else if (expect.header !== undefined) {
      // Sealed again as the stored object was: the same bytes only for the same plaintext. Bytes that differ are
      // dropped here, never stored (a header must not seal two plaintexts), and the segment is sealed afresh.
      if (resealsTo(tools, request, Buffer.from(expect.header, 'base64'), expect.sha256)) return { index, plainSize, reused: true };
    }
  }
  const data = seal(tools, request, (compressed, out) => tools.cipher.encryptInto(compressed, request.context, out));
  return { index, plainSize, sha256: tools.checksum(data), header: Buffer.from(tools.cipher.headerOf(data)).toString('base64'), data };
}

/** Whether sealing with `header` gives the stored SHA-256; a header the cipher cannot take (a damaged checkpoint) gives no. */
function resealsTo(tools: SegmentTools, request: SealRequest, header: Buffer, sha256: string): boolean {
  let again: Buffer;
  try {
    again = seal(tools, request, (compressed, out) => tools.cipher.resealInto(compressed, request.context, out, header));
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
  return tools.checksum(again) === sha256;
}

/**
 * Compresses into `request.out` itself where the codec can (zstd), far enough
 * in that sealing in place never overwrites bytes it has yet to read
 * (SegmentCipher.encryptInto): no scratch buffer per worker.
 */
function seal(tools: SegmentTools, request: SealRequest, sealInto: (compressed: Buffer, out: Buffer) => number): Buffer {
  const { plain, out } = request;
  const compressed = out ? tools.compressScratch(plain, out.subarray(tools.cipher.sealedSize(out.length) - out.length)) : tools.compress(plain);
  const into = out && tools.cipher.sealedSize(compressed.length) <= out.length ? out : Buffer.allocUnsafe(tools.cipher.sealedSize(compressed.length));
  return into.subarray(0, sealInto(compressed, into));
}

/**
 * Opening checks the stored bytes against their SHA-256 before anything else,
 * except under an authenticating cipher: its tag already fails on any altered
 * byte, so the hash is computed only then, to tell a damaged object
 * (E_CHECKSUM) from a wrong key (E_WRONG_KEY). The plaintext's SHA-256 is
 * checked when the request carries it; callers that check every file's own
 * SHA-256 leave it out (core/read/archive.ts). `storedIsScratch`: the
 * stored bytes are the caller's to overwrite. With `request.out` the
 * plaintext is written there (a copy for codecs that cannot write into it).
 */
export function openSegment(tools: SegmentTools, request: OpenRequest, storedIsScratch = false): Buffer {
  const { stored, what } = request;
  const damaged = (): FailsafeError => new FailsafeError('E_CHECKSUM', `checksum mismatch in ${what}: the stored object was altered or damaged`);
  if (stored.length !== request.storedSize) throw damaged();
  if (!tools.cipher.authenticated && tools.checksum(stored) !== request.sha256) throw damaged();
  let plain: Buffer;
  try {
    // Decrypting in place spares a segment-sized allocation; a failure leaves the stored bytes intact up to the bad chunk, so the hash still tells.
    const opened =
      storedIsScratch && tools.cipher.authenticated
        ? stored.subarray(0, tools.cipher.decryptInto(stored, request.context, stored))
        : tools.cipher.decrypt(stored, request.context);
    const { out } = request;
    plain = tools.decompress(opened, request.plainSize, out);
    if (out && plain.buffer !== out.buffer && plain.length <= out.length) plain = out.subarray(0, plain.copy(out));
  } catch (err) {
    if (tools.cipher.authenticated && tools.checksum(stored) !== request.sha256) throw damaged();
    if (isFailsafeError(err)) throw new FailsafeError(err.code, `${err.message} (${what})`, { cause: err });
    throw err;
  }
  if (plain.length !== request.plainSize || (request.plainSha256 !== undefined && sha256Hex(plain) !== request.plainSha256)) {
    throw new FailsafeError('E_CHECKSUM', `checksum mismatch in the content of ${what}`);
  }
  return plain;
}
