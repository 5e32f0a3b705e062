/**
 * Segments are sealed with crypto_secretstream_xchacha20poly1305: a 24-byte
 * header, then chunks of at most CHUNK_PLAIN bytes each grown by ABYTES, the
 * last one tagged FINAL. Every chunk carries the segment's context (snapshot
 * id and index) as additional data, so a segment moved to another position or
 * snapshot fails authentication, and a truncated one lacks its FINAL tag.
 *
 * The bytes are libsodium's, but the bulk work runs in OpenSSL through
 * node:crypto, several times faster than libsodium's WebAssembly (see Stream
 * below). libsodium still derives the subkey (HChaCha20).
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { Sodium } from './sodium.js';

export const CHUNK_PLAIN = 64 * 1024;
const HEADER_BYTES = 24;
const ABYTES = 17;
const MAC_BYTES = 16;
const BLOCK_BYTES = 64;
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

/**
 * One secretstream: its key and nonce, advanced after every chunk as libsodium
 * does. A chunk is the RFC 8439 encryption of a 64-byte block holding the tag,
 * then the message, with only the block's first byte sent, except for one
 * quirk: secretstream pads the MAC input by (length mod 16) zero bytes where
 * RFC 8439 pads by (-length mod 16). The two agree for full 64 KiB chunks,
 * which OpenSSL then seals; a final chunk of another length gets its
 * Poly1305 tag from libsodium.
 */
class Stream {
  readonly #sodium: Sodium;
  readonly #key: Buffer;
  /** 4-byte little-endian counter (from 1), then the 8-byte inner nonce. */
  readonly #nonce = Buffer.alloc(12);

  constructor(sodium: Sodium, key: Uint8Array, header: Buffer) {
    this.#sodium = sodium;
    this.#key = Buffer.from(sodium.crypto_core_hchacha20(header.subarray(0, 16), key, null));
    this.#nonce.writeUInt32LE(1, 0);
    header.copy(this.#nonce, 4, 16, HEADER_BYTES);
  }

  /** Writes the sealed chunk (1 + message + 16 bytes) at `offset` of `out`; returns its length. */
  seal(tag: number, message: Buffer, ad: Buffer, out: Buffer, offset: number): number {
    const block = Buffer.alloc(BLOCK_BYTES);
    block[0] = tag;
    let mac: Buffer;
    if (rfcPadding(message.length)) {
      const cipher = createCipheriv('chacha20-poly1305', this.#key, this.#nonce, { authTagLength: MAC_BYTES });
      cipher.setAAD(ad, { plaintextLength: BLOCK_BYTES + message.length });
      out[offset] = cipher.update(block)[0]!;
      cipher.update(message).copy(out, offset + 1);
      cipher.final();
      mac = cipher.getAuthTag();
    } else {
      const sealed = this.#keystream(1).update(Buffer.concat([block, message]));
      out[offset] = sealed[0]!;
      sealed.copy(out, offset + 1, BLOCK_BYTES);
      mac = this.#poly1305(ad, sealed.subarray(0, BLOCK_BYTES), sealed.subarray(BLOCK_BYTES));
    }
    mac.copy(out, offset + 1 + message.length);
    this.#advance(mac);
    return 1 + message.length + MAC_BYTES;
  }

  /** Opens one sealed chunk into `out` at `offset`; returns its tag and length, or undefined when it is forged. */
  open(piece: Buffer, ad: Buffer, out: Buffer, offset: number): { tag: number; length: number } | undefined {
    const message = piece.subarray(1, piece.length - MAC_BYTES);
    const mac = piece.subarray(piece.length - MAC_BYTES);
    // The block's other 63 bytes were the keystream over zeros; only its first byte was sent.
    const block = this.#keystream(1).update(Buffer.alloc(BLOCK_BYTES));
    const tag = block[0]! ^ piece[0]!;
    block[0] = piece[0]!;
    if (rfcPadding(message.length)) {
      const decipher = createDecipheriv('chacha20-poly1305', this.#key, this.#nonce, { authTagLength: MAC_BYTES });
      decipher.setAAD(ad, { plaintextLength: BLOCK_BYTES + message.length });
      decipher.setAuthTag(mac);
      decipher.update(block);
      const length = decipher.update(message).copy(out, offset);
      try {
        decipher.final();
      } catch {
        return undefined;
      }
      this.#advance(mac);
      return { tag, length };
    }
    if (!timingSafeEqual(this.#poly1305(ad, block, message), mac)) return undefined;
    const length = this.#keystream(2).update(message).copy(out, offset);
    this.#advance(mac);
    return { tag, length };
  }

  #keystream(counter: number) {
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(counter, 0);
    this.#nonce.copy(iv, 4);
    return createCipheriv('chacha20', this.#key, iv);
  }

  /** secretstream's MAC: Poly1305 over ad, pad, the block, the ciphertext, its own pad and both lengths. */
  #poly1305(ad: Buffer, block: Buffer, ciphertext: Buffer): Buffer {
    const s = this.#sodium;
    const state = s.crypto_onetimeauth_init(this.#keystream(0).update(Buffer.alloc(32)));
    const lengths = Buffer.alloc(16);
    lengths.writeBigUInt64LE(BigInt(ad.length), 0);
    lengths.writeBigUInt64LE(BigInt(BLOCK_BYTES + ciphertext.length), 8);
    for (const part of [ad, Buffer.alloc((16 - (ad.length % 16)) % 16), block, ciphertext, Buffer.alloc(ciphertext.length % 16), lengths]) {
      if (part.length > 0) s.crypto_onetimeauth_update(state, part);
    }
    return Buffer.from(s.crypto_onetimeauth_final(state));
  }

  #advance(mac: Buffer): void {
    for (let i = 0; i < 8; i++) this.#nonce[4 + i]! ^= mac[i]!;
    // Segments hold far fewer than 2^32 chunks, so the counter never wraps into a rekey.
    this.#nonce.writeUInt32LE((this.#nonce.readUInt32LE(0) + 1) >>> 0, 0);
  }
}

/** Whether RFC 8439's padding of the 64-byte block plus `length` bytes equals secretstream's. */
function rfcPadding(length: number): boolean {
  return (length & 15) === (-length & 15);
}

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
    const header = randomBytes(HEADER_BYTES);
    const stream = new Stream(this.#sodium, this.#key, header);
    const ad = Buffer.from(context);
    const chunkCount = Math.max(1, Math.ceil(plain.length / CHUNK_PLAIN));
    const out = Buffer.allocUnsafe(HEADER_BYTES + plain.length + chunkCount * ABYTES);
    header.copy(out, 0);
    let written = HEADER_BYTES;
    for (let i = 0; i < chunkCount; i++) {
      const piece = plain.subarray(i * CHUNK_PLAIN, (i + 1) * CHUNK_PLAIN);
      written += stream.seal(i === chunkCount - 1 ? TAG_FINAL : TAG_MESSAGE, piece, ad, out, written);
    }
    return out;
  }

  decrypt(sealed: Buffer, context: string): Buffer {
    if (sealed.length < HEADER_BYTES + ABYTES) throw wrongKey(context, 'too short');
    const stream = new Stream(this.#sodium, this.#key, sealed.subarray(0, HEADER_BYTES));
    const ad = Buffer.from(context);
    const body = sealed.subarray(HEADER_BYTES);
    const chunkSealed = CHUNK_PLAIN + ABYTES;
    const out = Buffer.allocUnsafe(Math.max(0, body.length - Math.ceil(body.length / chunkSealed) * ABYTES));
    let read = 0;
    let written = 0;
    let final = false;
    while (read < body.length) {
      if (final) throw wrongKey(context, 'data after the final chunk');
      const piece = body.subarray(read, read + chunkSealed);
      read += piece.length;
      const opened = piece.length < ABYTES ? undefined : stream.open(piece, ad, out, written);
      if (!opened) throw wrongKey(context, 'authentication failed');
      written += opened.length;
      final = opened.tag === TAG_FINAL;
      // Failsafe writes only MESSAGE and FINAL; a REKEY or PUSH chunk would need a state this reader does not keep.
      if (!final && opened.tag !== TAG_MESSAGE) throw wrongKey(context, 'unexpected chunk tag');
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
