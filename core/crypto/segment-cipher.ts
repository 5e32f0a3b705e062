/**
 * Segments are sealed with crypto_secretstream_xchacha20poly1305: a 24-byte
 * header, then chunks of at most CHUNK_PLAIN bytes each grown by ABYTES, the
 * last one tagged FINAL. Every chunk carries the segment's context (snapshot
 * id and index) as additional data, so a segment moved to another position or
 * snapshot fails authentication, and a truncated one lacks its FINAL tag.
 */
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { Sodium } from './sodium.js';

export const CHUNK_PLAIN = 64 * 1024;

export class SecretstreamCipher implements SegmentCipher {
  readonly name = 'xchacha20poly1305-secretstream';
  readonly #sodium: Sodium;
  readonly #key: Uint8Array;

  constructor(sodium: Sodium, key: Uint8Array) {
    if (key.length !== sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES) {
      throw new FailsafeError('E_INVALID_KEY', 'a segment key must be 32 bytes');
    }
    this.#sodium = sodium;
    this.#key = key;
  }

  encrypt(plain: Buffer, context: string): Buffer {
    const s = this.#sodium;
    const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(this.#key);
    const chunkCount = Math.max(1, Math.ceil(plain.length / CHUNK_PLAIN));
    const out = Buffer.allocUnsafe(header.length + plain.length + chunkCount * s.crypto_secretstream_xchacha20poly1305_ABYTES);
    out.set(header, 0);
    let written = header.length;
    for (let i = 0; i < chunkCount; i++) {
      const piece = plain.subarray(i * CHUNK_PLAIN, (i + 1) * CHUNK_PLAIN);
      const tag =
        i === chunkCount - 1
          ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL
          : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      const sealed = s.crypto_secretstream_xchacha20poly1305_push(state, piece, context, tag);
      out.set(sealed, written);
      written += sealed.length;
    }
    return out;
  }

  decrypt(sealed: Buffer, context: string): Buffer {
    const s = this.#sodium;
    const headerBytes = s.crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    const abytes = s.crypto_secretstream_xchacha20poly1305_ABYTES;
    if (sealed.length < headerBytes + abytes) throw wrongKey(context, 'too short');
    let state;
    try {
      state = s.crypto_secretstream_xchacha20poly1305_init_pull(sealed.subarray(0, headerBytes), this.#key);
    } catch (err) {
      throw wrongKey(context, 'bad header', err);
    }
    const body = sealed.subarray(headerBytes);
    const chunkSealed = CHUNK_PLAIN + abytes;
    const out = Buffer.allocUnsafe(Math.max(0, body.length - Math.ceil(body.length / chunkSealed) * abytes));
    let read = 0;
    let written = 0;
    let final = false;
    while (read < body.length) {
      if (final) throw wrongKey(context, 'data after the final chunk');
      const piece = body.subarray(read, read + chunkSealed);
      read += piece.length;
      let result: false | { message: Uint8Array; tag: number };
      try {
        result = s.crypto_secretstream_xchacha20poly1305_pull(state, piece, context) as false | { message: Uint8Array; tag: number };
      } catch (err) {
        throw wrongKey(context, 'authentication failed', err);
      }
      // pull returns false instead of throwing on a forged chunk.
      if (!result) throw wrongKey(context, 'authentication failed');
      out.set(result.message, written);
      written += result.message.length;
      final = result.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    }
    if (!final) throw wrongKey(context, 'truncated (no final chunk)');
    return out.subarray(0, written);
  }
}

/** No encryption (YAML `encryption: none`): stored bytes are the compressed bytes. */
export class PlainCipher implements SegmentCipher {
  readonly name = 'none';
  encrypt(plain: Buffer): Buffer {
    return plain;
  }
  decrypt(sealed: Buffer): Buffer {
    return sealed;
  }
}

function wrongKey(context: string, why: string, cause?: unknown): FailsafeError {
  return new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data in segment ${context} (${why})`, { cause });
}
