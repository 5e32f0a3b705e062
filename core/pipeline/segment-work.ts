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

/** What a worker needs to rebuild a snapshot's codecs: plain data, so it crosses a thread boundary. */
export interface SegmentCodecSpec {
  compression: { algorithm: string; level: number };
  /** The segment cipher's name and, unless it is `none`, its 32-byte key. */
  cipher: { name: string; key?: Uint8Array };
}

/** The synchronous codecs of one thread. */
export interface SegmentTools {
  compress(data: Buffer): Buffer;
  /** The codec's scratch result, valid until its next call, or a view of `room` (SegmentCodec.compressScratch). */
  compressScratch(data: Buffer, room?: Buffer): Buffer;
  decompress(data: Buffer, expectedSize: number, output?: Buffer): Buffer;
  cipher: SegmentCipher;
}

export interface SealRequest {
  index: number;
  plain: Buffer;
  /** Authenticated context of the segment (core/format/layout.ts segmentContext). */
  context: string;
  /** The interrupted run's record of this segment: when the plaintext still matches, nothing is sealed. */
  expect?: { plainSize: number; plainSha256: string };
  /** Where to write the sealed bytes (shared memory the caller recycles); a new buffer when absent or too small. */
  out?: Buffer;
}

export type SealResult =
  | { index: number; plainSize: number; plainSha256: string; reused: true }
  | { index: number; plainSize: number; plainSha256: string; sha256: string; data: Buffer };

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

export function sealSegment(tools: SegmentTools, request: SealRequest): SealResult {
  const { index, plain, context, expect } = request;
  const plainSha256 = sha256Hex(plain);
  const plainSize = plain.length;
  if (expect && expect.plainSha256 === plainSha256 && expect.plainSize === plainSize) return { index, plainSize, plainSha256, reused: true };
  const { out } = request;
  let data: Buffer;
  if (out) {
    // Compressed into `out` itself where the codec can (zstd), far enough in that sealing it in place never overwrites
    // bytes it has yet to read (SegmentCipher.encryptInto): no scratch buffer per worker.
    const at = tools.cipher.sealedSize(out.length) - out.length;
    const compressed = tools.compressScratch(plain, out.subarray(at));
    data = tools.cipher.sealedSize(compressed.length) <= out.length ? out.subarray(0, tools.cipher.encryptInto(compressed, context, out)) : tools.cipher.encrypt(compressed, context);
  } else data = tools.cipher.encrypt(tools.compress(plain), context);
  return { index, plainSize, plainSha256, sha256: sha256Hex(data), data };
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
  if (!tools.cipher.authenticated && sha256Hex(stored) !== request.sha256) throw damaged();
  let plain: Buffer;
  try {
    // Decrypting in place spares a segment-sized allocation; a failure leaves the stored bytes intact up to the bad chunk, so the hash still tells.
    const opened = storedIsScratch && tools.cipher.authenticated ? stored.subarray(0, tools.cipher.decryptInto(stored, request.context, stored)) : tools.cipher.decrypt(stored, request.context);
    const { out } = request;
    plain = tools.decompress(opened, request.plainSize, out);
    if (out && plain.buffer !== out.buffer && plain.length <= out.length) plain = out.subarray(0, plain.copy(out));
  } catch (err) {
    if (tools.cipher.authenticated && sha256Hex(stored) !== request.sha256) throw damaged();
    if (isFailsafeError(err)) throw new FailsafeError(err.code, `${err.message} (${what})`, { cause: err });
    throw err;
  }
  if (plain.length !== request.plainSize || (request.plainSha256 !== undefined && sha256Hex(plain) !== request.plainSha256)) {
    throw new FailsafeError('E_CHECKSUM', `checksum mismatch in the content of ${what}`);
  }
  return plain;
}
