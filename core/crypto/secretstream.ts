/**
 * crypto_secretstream_xchacha20poly1305, byte for byte libsodium's, without
 * libsodium: the bulk work runs in OpenSSL through node:crypto (several times
 * faster than libsodium's WebAssembly), HChaCha20 and the odd final chunk's
 * Poly1305 in @noble/ciphers. Nothing here needs an asynchronous
 * initialisation or a WebAssembly instance, so a worker thread can seal and
 * open segments from the key bytes alone.
 */
import { createCipheriv, createDecipheriv, timingSafeEqual, type Cipher } from 'node:crypto';
import { Poly1305 } from '@noble/ciphers/_poly1305.js';
import { hchacha } from '@noble/ciphers/chacha.js';

export const HEADER_BYTES = 24;
export const KEY_BYTES = 32;
export const ABYTES = 17;
export const TAG_MESSAGE = 0;
export const TAG_FINAL = 3;
const MAC_BYTES = 16;
const BLOCK_BYTES = 64;
/** "expand 32-byte k", ChaCha's constant words. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
/** Never written: the input whose encryption is the keystream, and the source of Poly1305's zero padding. */
const ZEROS = Buffer.alloc(BLOCK_BYTES);
/** The 64-byte block a sealed chunk starts with: its tag, then zeros. Only byte 0 ever changes. */
const TAG_BLOCK = Buffer.alloc(BLOCK_BYTES);

/**
 * One secretstream: its subkey and nonce, advanced after every chunk as
 * libsodium does. A chunk is the RFC 8439 encryption of a 64-byte block
 * holding the tag, then the message, with only the block's first byte sent,
 * except for one quirk: secretstream pads the MAC input by (length mod 16)
 * zero bytes where RFC 8439 pads by (-length mod 16). The two agree when the
 * message length is 0 or 8 mod 16 (every full 64 KiB chunk), which OpenSSL
 * then seals in one call; another final chunk gets its Poly1305 tag from
 * @noble/ciphers over OpenSSL's keystream.
 */
export class SecretStream {
  readonly #key: Buffer;
  /** OpenSSL's ChaCha20 IV: the 4-byte block counter, then the 12-byte nonce (`#nonce`). */
  readonly #iv = Buffer.alloc(16);
  /** secretstream's nonce: a 4-byte little-endian counter (from 1), then the 8-byte inner nonce. */
  readonly #nonce = this.#iv.subarray(4);

  /** `header` is read here and not kept, so the caller may overwrite it afterwards. */
  constructor(key: Uint8Array, header: Uint8Array) {
    this.#key = hchacha20(key, header.subarray(0, 16));
    this.#nonce.writeUInt32LE(1, 0);
    this.#nonce.set(header.subarray(16, HEADER_BYTES), 4);
  }

  /** Writes the sealed chunk (1 + message + 16 bytes) at `offset` of `out`; returns its length. */
  seal(tag: number, message: Buffer, ad: Buffer, out: Buffer, offset: number): number {
    TAG_BLOCK[0] = tag;
    let mac: Buffer;
    if (rfcPadding(message.length)) {
      const cipher = createCipheriv('chacha20-poly1305', this.#key, this.#nonce, { authTagLength: MAC_BYTES });
      cipher.setAAD(ad, { plaintextLength: BLOCK_BYTES + message.length });
      out[offset] = cipher.update(TAG_BLOCK)[0]!;
      cipher.update(message).copy(out, offset + 1);
      cipher.final();
      mac = cipher.getAuthTag();
    } else {
      const keystream = this.#chacha20(0);
      const polyKey = keystream.update(ZEROS);
      const block = keystream.update(TAG_BLOCK);
      const ciphertext = keystream.update(message);
      out[offset] = block[0]!;
      ciphertext.copy(out, offset + 1);
      mac = secretstreamMac(polyKey, ad, block, ciphertext);
    }
    mac.copy(out, offset + 1 + message.length);
    this.#advance(mac);
    return 1 + message.length + MAC_BYTES;
  }

  /**
   * Opens one sealed chunk into `out` at `offset`; returns its tag and length,
   * or undefined when it is forged (then nothing of it was written). The
   * whole piece is read before `out` is written, so `out` may overlap it.
   */
  open(piece: Buffer, ad: Buffer, out: Buffer, offset: number): { tag: number; length: number } | undefined {
    const message = piece.subarray(1, piece.length - MAC_BYTES);
    const mac = piece.subarray(piece.length - MAC_BYTES);
    let plain: Buffer;
    let tag: number;
    if (rfcPadding(message.length)) {
      // The block's other 63 bytes were the keystream over zeros; only its first byte was sent.
      const block = this.#chacha20(1).update(ZEROS);
      tag = block[0]! ^ piece[0]!;
      block[0] = piece[0]!;
      const decipher = createDecipheriv('chacha20-poly1305', this.#key, this.#nonce, { authTagLength: MAC_BYTES });
      decipher.setAAD(ad, { plaintextLength: BLOCK_BYTES + message.length });
      decipher.setAuthTag(mac);
      decipher.update(block);
      plain = decipher.update(message);
      try {
        decipher.final();
      } catch {
        return undefined;
      }
    } else {
      const keystream = this.#chacha20(0);
      const polyKey = keystream.update(ZEROS);
      const block = keystream.update(ZEROS);
      tag = block[0]! ^ piece[0]!;
      block[0] = piece[0]!;
      if (!timingSafeEqual(secretstreamMac(polyKey, ad, block, message), mac)) return undefined;
      plain = keystream.update(message);
    }
    this.#advance(mac);
    plain.copy(out, offset);
    return { tag, length: plain.length };
  }

  #chacha20(counter: number): Cipher {
    this.#iv.writeUInt32LE(counter, 0);
    return createCipheriv('chacha20', this.#key, this.#iv);
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

/** secretstream's subkey: HChaCha20 of the key and the header's first 16 bytes. */
function hchacha20(key: Uint8Array, input: Uint8Array): Buffer {
  // Copies in the host's byte order, as @noble/ciphers expects (it swaps on big-endian hosts itself).
  const out = new Uint32Array(8);
  hchacha(SIGMA, new Uint32Array(new Uint8Array(key).buffer), new Uint32Array(new Uint8Array(input).buffer), out);
  return Buffer.from(out.buffer);
}

/**
 * secretstream's MAC: Poly1305 (keyed with the first 32 bytes of the
 * keystream's block 0) over ad, its padding, the block, the ciphertext, its
 * own (length mod 16) padding and both lengths.
 */
function secretstreamMac(keystreamBlock0: Buffer, ad: Buffer, block: Buffer, ciphertext: Buffer): Buffer {
  const lengths = Buffer.alloc(16);
  lengths.writeUIntLE(ad.length, 0, 6);
  lengths.writeUIntLE(BLOCK_BYTES + ciphertext.length, 8, 6);
  const mac = new Poly1305(keystreamBlock0.subarray(0, 32));
  for (const part of [ad, ZEROS.subarray(0, -ad.length & 15), block, ciphertext, ZEROS.subarray(0, ciphertext.length & 15), lengths]) {
    if (part.length > 0) mac.update(part);
  }
  const tag = mac.digest();
  return Buffer.from(tag.buffer, tag.byteOffset, tag.length);
}
