import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHUNK_PLAIN, SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { getSodium, type Sodium } from '../../core/crypto/sodium.js';

// libsodium's own secretstream, as docs/format.md tells a decoder to use it.
function libsodiumSeal(s: Sodium, key: Uint8Array, plain: Buffer, context: string): Buffer {
  const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  const parts: Uint8Array[] = [header];
  const count = Math.max(1, Math.ceil(plain.length / CHUNK_PLAIN));
  for (let i = 0; i < count; i++) {
    const tag = i === count - 1 ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    parts.push(s.crypto_secretstream_xchacha20poly1305_push(state, plain.subarray(i * CHUNK_PLAIN, (i + 1) * CHUNK_PLAIN), context, tag));
  }
  return Buffer.concat(parts);
}

function libsodiumOpen(s: Sodium, key: Uint8Array, sealed: Buffer, context: string): { plain: Buffer; tags: number[] } {
  const state = s.crypto_secretstream_xchacha20poly1305_init_pull(sealed.subarray(0, 24), key);
  const parts: Uint8Array[] = [];
  const tags: number[] = [];
  for (let read = 24; read < sealed.length; read += CHUNK_PLAIN + 17) {
    const result = s.crypto_secretstream_xchacha20poly1305_pull(state, sealed.subarray(read, read + CHUNK_PLAIN + 17), context) as false | { message: Uint8Array; tag: number };
    if (!result) throw new Error('libsodium refused the chunk');
    parts.push(result.message);
    tags.push(result.tag);
  }
  return { plain: Buffer.concat(parts), tags };
}

describe('secretstream segments are libsodium secretstream, byte for byte', () => {
  for (const size of [0, 1, 24, CHUNK_PLAIN, CHUNK_PLAIN + 1, 3 * CHUNK_PLAIN + 12_345]) {
    it(`libsodium opens what Failsafe seals, and Failsafe what libsodium seals (${size} bytes)`, async () => {
      const sodium = await getSodium();
      const key = sodium.randombytes_buf(32);
      const cipher = new SecretstreamCipher(sodium, key);
      const plain = randomBytes(size);

      const sealed = cipher.encrypt(plain, 'failsafe/v1/snap/3');
      expect(sealed.length).toBe(24 + size + Math.max(1, Math.ceil(size / CHUNK_PLAIN)) * 17);
      const opened = libsodiumOpen(sodium, key, sealed, 'failsafe/v1/snap/3');
      expect(opened.plain.equals(plain)).toBe(true);
      expect(opened.tags.at(-1)).toBe(sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
      expect(opened.tags.slice(0, -1).every((t) => t === sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)).toBe(true);

      const byLibsodium = libsodiumSeal(sodium, key, plain, 'failsafe/v1/snap/3');
      expect(cipher.decrypt(byLibsodium, 'failsafe/v1/snap/3').equals(plain)).toBe(true);
      expect(() => cipher.decrypt(byLibsodium, 'failsafe/v1/snap/4')).toThrow(/wrong key or corrupted/);
    });
  }

  it('refuses a final chunk altered anywhere, whatever its length', async () => {
    const sodium = await getSodium();
    const cipher = new SecretstreamCipher(sodium, sodium.randombytes_buf(32));
    for (const tail of [16, 24, 1000, 1001]) {
      const sealed = cipher.encrypt(randomBytes(CHUNK_PLAIN + tail), 'c');
      for (const at of [24 + CHUNK_PLAIN + 17, sealed.length - tail, sealed.length - 1]) {
        const altered = Buffer.from(sealed);
        altered[at]! ^= 1;
        expect(() => cipher.decrypt(altered, 'c')).toThrow(/authentication failed/);
      }
    }
  });

  it('refuses a stream whose chunks were reordered', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const sealed = new SecretstreamCipher(sodium, key).encrypt(randomBytes(3 * CHUNK_PLAIN), 'c');
    const chunk = CHUNK_PLAIN + 17;
    const swapped = Buffer.concat([sealed.subarray(0, 24), sealed.subarray(24 + chunk, 24 + 2 * chunk), sealed.subarray(24, 24 + chunk), sealed.subarray(24 + 2 * chunk)]);
    expect(() => new SecretstreamCipher(sodium, key).decrypt(swapped, 'c')).toThrow(/authentication failed/);
  });
});
