/**
 * Segments are sealed with crypto_secretstream_xchacha20poly1305: a 24-byte
 * header, then chunks of at most CHUNK_PLAIN bytes each grown by ABYTES, the
 * last one tagged FINAL. Every chunk carries the segment's context (snapshot
 * id and index) as additional data, so a segment moved to another position or
 * snapshot fails authentication, and a truncated one lacks its FINAL tag.
 *
 * The bytes are libsodium's, but no libsodium runs here (see secretstream.ts):
 * a cipher is built from the 32 key bytes alone, so a worker thread that
 * receives them (core/pipeline/segment-worker.ts) builds the same cipher with
 * `segmentCipher`.
 * The `…Into` methods write into the caller's buffers (SharedArrayBuffer-backed
 * ones too), so workers can seal and open without a segment-sized allocation.
 */
import { randomFillSync } from 'node:crypto';
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { ABYTES, HEADER_BYTES, KEY_BYTES, SecretStream, TAG_FINAL, TAG_MESSAGE } from './secretstream.js';

export const CHUNK_PLAIN = 64 * 1024;
const CHUNK_SEALED = CHUNK_PLAIN + ABYTES;

/** The cipher `name` (a manifest's or journal's `cipher`) with the snapshot's segment key. */
export function segmentCipher(name: string, key?: Uint8Array): SecretstreamCipher | PlainCipher {
  if (name === 'none') return new PlainCipher();
  if (name !== 'xchacha20poly1305-secretstream') throw new FailsafeError('E_UNSUPPORTED_FORMAT', `unknown segment cipher "${name}"`);
  if (key === undefined) throw new FailsafeError('E_INVALID_KEY', `the segment cipher ${name} needs a key`);
  return new SecretstreamCipher(key);
}

export class SecretstreamCipher implements SegmentCipher {
  readonly name = 'xchacha20poly1305-secretstream';
  readonly authenticated = true;
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new FailsafeError('E_INVALID_KEY', 'a segment key must be 32 bytes');
    this.#key = Uint8Array.from(key);
  }

  sealedSize(plainLength: number): number {
    return HEADER_BYTES + plainLength + Math.max(1, Math.ceil(plainLength / CHUNK_PLAIN)) * ABYTES;
  }

  /** The plaintext length of `sealedLength` well-formed sealed bytes (an upper bound for others). */
  openedSize(sealedLength: number): number {
    const body = sealedLength - HEADER_BYTES;
    return Math.max(0, body - Math.ceil(body / CHUNK_SEALED) * ABYTES);
  }

  encrypt(plain: Buffer, context: string): Buffer {
    const out = Buffer.allocUnsafe(this.sealedSize(plain.length));
    this.encryptInto(plain, context, out);
    return out;
  }

  /**
   * Seals `plain` into the start of `out`; returns the bytes written, `sealedSize(plain.length)`. `plain` may lie in
   * `out` itself, starting at least `sealedSize(n) - n` bytes in for some n ≥ its length (the overhead only grows
   * with the length): output chunk i ends 17 (i + 1) + 24 bytes past where input chunk i ends, so the header and
   * every chunk written stay behind the bytes still to be read.
   */
  encryptInto(plain: Buffer, context: string, out: Buffer): number {
    return this.#sealInto(plain, context, out, (header) => randomFillSync(header));
  }

  headerOf(sealed: Uint8Array): Uint8Array {
    if (sealed.length < HEADER_BYTES) throw new RangeError(`a sealed segment starts with a ${HEADER_BYTES}-byte header, got ${sealed.length} bytes`);
    return Uint8Array.from(sealed.subarray(0, HEADER_BYTES));
  }

  resealInto(plain: Buffer, context: string, out: Buffer, header: Uint8Array): number {
    if (header.length !== HEADER_BYTES) throw new RangeError(`a secretstream header is ${HEADER_BYTES} bytes, got ${header.length}`);
    const given = Uint8Array.from(header);
    return this.#sealInto(plain, context, out, (into) => into.set(given));
  }

  #sealInto(plain: Buffer, context: string, out: Buffer, fillHeader: (header: Buffer) => void): number {
    const size = this.sealedSize(plain.length);
    if (out.length < size) throw new RangeError(`sealing ${plain.length} bytes needs ${size} bytes of output, got ${out.length}`);
    const header = out.subarray(0, HEADER_BYTES);
    fillHeader(header);
    const stream = new SecretStream(this.#key, header);
    const ad = Buffer.from(context);
    const chunkCount = Math.max(1, Math.ceil(plain.length / CHUNK_PLAIN));
    let written = HEADER_BYTES;
    for (let i = 0; i < chunkCount; i++) {
      const piece = plain.subarray(i * CHUNK_PLAIN, (i + 1) * CHUNK_PLAIN);
      written += stream.seal(i === chunkCount - 1 ? TAG_FINAL : TAG_MESSAGE, piece, ad, out, written);
    }
    return written;
  }

  decrypt(sealed: Buffer, context: string): Buffer {
    const out = Buffer.allocUnsafe(this.openedSize(sealed.length));
    return out.subarray(0, this.decryptInto(sealed, context, out));
  }

  /**
   * Opens `sealed` into the start of `out` (at least `openedSize(sealed.length)`
   * bytes; it may be `sealed` itself); returns the plaintext length. On
   * E_WRONG_KEY, `out` holds no unauthenticated bytes but may hold some
   * chunks of a stream that is then found truncated: discard it.
   */
  decryptInto(sealed: Buffer, context: string, out: Buffer): number {
    if (sealed.length < HEADER_BYTES + ABYTES) throw wrongKey(context, 'too short');
    const size = this.openedSize(sealed.length);
    if (out.length < size) throw new RangeError(`opening ${sealed.length} sealed bytes needs ${size} bytes of output, got ${out.length}`);
    const stream = new SecretStream(this.#key, sealed.subarray(0, HEADER_BYTES));
    const ad = Buffer.from(context);
    let read = HEADER_BYTES;
    let written = 0;
    let final = false;
    while (read < sealed.length) {
      if (final) throw wrongKey(context, 'data after the final chunk');
      const piece = sealed.subarray(read, read + CHUNK_SEALED);
      read += piece.length;
      const opened = piece.length < ABYTES ? undefined : stream.open(piece, ad, out, written);
      if (!opened) throw wrongKey(context, 'authentication failed');
      written += opened.length;
      final = opened.tag === TAG_FINAL;
      // Failsafe writes only MESSAGE and FINAL; a REKEY or PUSH chunk would need a state this reader does not keep.
      if (!final && opened.tag !== TAG_MESSAGE) throw wrongKey(context, 'unexpected chunk tag');
    }
    if (!final) throw wrongKey(context, 'truncated (no final chunk)');
    return written;
  }
}

/** No encryption (YAML `encryption: none`): stored bytes are the compressed bytes. */
export class PlainCipher implements SegmentCipher {
  readonly name = 'none';
  readonly authenticated = false;
  sealedSize(plainLength: number): number {
    return plainLength;
  }
  openedSize(sealedLength: number): number {
    return sealedLength;
  }
  encrypt(plain: Buffer): Buffer {
    return plain;
  }
  encryptInto(plain: Buffer, _context: string, out: Buffer): number {
    if (out.length < plain.length) throw new RangeError(`copying ${plain.length} bytes needs as many bytes of output, got ${out.length}`);
    return plain.copy(out, 0);
  }
  headerOf(): Uint8Array {
    return new Uint8Array(0);
  }
  resealInto(plain: Buffer, context: string, out: Buffer): number {
    return this.encryptInto(plain, context, out);
  }
  decrypt(sealed: Buffer): Buffer {
    return sealed;
  }
  decryptInto(sealed: Buffer, context: string, out: Buffer): number {
    return this.encryptInto(sealed, context, out);
  }
}

function wrongKey(context: string, why: string): FailsafeError {
  return new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data in segment ${context} (${why})`);
}
