import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CHUNK_PLAIN, PlainCipher, SecretstreamCipher, segmentCipher } from '../../core/crypto/segment-cipher.js';
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

function libsodiumOpen(s: Sodium, key: Uint8Array, sealed: Uint8Array, context: string): { plain: Buffer; tags: number[] } {
  const state = s.crypto_secretstream_xchacha20poly1305_init_pull(sealed.subarray(0, 24), key);
  const parts: Uint8Array[] = [];
  const tags: number[] = [];
  for (let read = 24; read < sealed.length; read += CHUNK_PLAIN + 17) {
    const result = s.crypto_secretstream_xchacha20poly1305_pull(state, sealed.subarray(read, read + CHUNK_PLAIN + 17), context) as
      false | { message: Uint8Array; tag: number };
    if (!result) throw new Error('libsodium refused the chunk');
    parts.push(result.message);
    tags.push(result.tag);
  }
  return { plain: Buffer.concat(parts), tags };
}

function expectWrongKey(open: () => unknown, why: RegExp = /wrong key or corrupted/): void {
  expect(open).toThrow(expect.objectContaining({ code: 'E_WRONG_KEY', message: expect.stringMatching(why) }));
}

const context = 'failsafe/v1/snap/3';

describe('secretstream segments are libsodium secretstream, byte for byte', () => {
  // The final chunk's length mod 16 picks the MAC path (OpenSSL's AEAD for 0 and 8, Poly1305 apart otherwise).
  for (let rest = 0; rest < 16; rest++) {
    it(`libsodium opens what Failsafe seals, and Failsafe what libsodium seals (final chunk ≡ ${rest} mod 16)`, async () => {
      const sodium = await getSodium();
      const key = sodium.randombytes_buf(32);
      const cipher = new SecretstreamCipher(key);
      for (const size of [rest, 16 + rest, CHUNK_PLAIN + 1000 + rest, 2 * CHUNK_PLAIN + 16 * 1023 + rest]) {
        const plain = randomBytes(size);
        const sealed = cipher.encrypt(plain, context);
        expect(sealed.length).toBe(24 + size + Math.max(1, Math.ceil(size / CHUNK_PLAIN)) * 17);
        const opened = libsodiumOpen(sodium, key, sealed, context);
        expect(opened.plain.equals(plain)).toBe(true);
        expect(opened.tags.at(-1)).toBe(sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
        expect(opened.tags.slice(0, -1).every((t) => t === sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)).toBe(true);

        const byLibsodium = libsodiumSeal(sodium, key, plain, context);
        expect(cipher.decrypt(byLibsodium, context).equals(plain)).toBe(true);
        expectWrongKey(() => cipher.decrypt(byLibsodium, 'failsafe/v1/snap/4'), /authentication failed/);
        expectWrongKey(() => new SecretstreamCipher(randomBytes(32)).decrypt(byLibsodium, context), /authentication failed/);
      }
    });
  }

  for (const size of [CHUNK_PLAIN, 3 * CHUNK_PLAIN]) {
    it(`ends a stream of whole chunks with a full FINAL chunk, as libsodium does (${size} bytes)`, async () => {
      const sodium = await getSodium();
      const key = sodium.randombytes_buf(32);
      const plain = randomBytes(size);
      const opened = libsodiumOpen(sodium, key, new SecretstreamCipher(key).encrypt(plain, context), context);
      expect(opened.plain.equals(plain)).toBe(true);
      expect(opened.tags).toEqual([...Array<number>(size / CHUNK_PLAIN - 1).fill(0), 3]);
      expect(new SecretstreamCipher(key).decrypt(libsodiumSeal(sodium, key, plain, context), context).equals(plain)).toBe(true);
    });
  }

  it('refuses a libsodium segment altered anywhere, whatever its final chunk length', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const cipher = new SecretstreamCipher(key);
    for (const tail of [0, 16, 24, 1000, 1001]) {
      const sealed = libsodiumSeal(sodium, key, randomBytes(CHUNK_PLAIN + tail), context);
      for (const at of [0, 23, 24, 24 + CHUNK_PLAIN + 16, 24 + CHUNK_PLAIN + 17, sealed.length - tail - 17, sealed.length - 1].filter(
        (at) => at < sealed.length,
      )) {
        const altered = Buffer.from(sealed);
        altered[at]! ^= 1;
        expectWrongKey(() => cipher.decrypt(altered, context), /authentication failed/);
      }
    }
  });

  it('refuses truncated and extended segments', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const cipher = new SecretstreamCipher(key);
    const sealed = libsodiumSeal(sodium, key, randomBytes(2 * CHUNK_PLAIN + 5), context);
    expectWrongKey(() => cipher.decrypt(sealed.subarray(0, 24 + CHUNK_PLAIN + 17), context), /truncated/);
    expectWrongKey(() => cipher.decrypt(sealed.subarray(0, 24 + 2 * (CHUNK_PLAIN + 17)), context), /truncated/);
    expectWrongKey(() => cipher.decrypt(sealed.subarray(0, sealed.length - 1), context), /authentication failed/);
    expectWrongKey(() => cipher.decrypt(sealed.subarray(0, sealed.length - 10), context), /authentication failed/);
    expectWrongKey(() => cipher.decrypt(sealed.subarray(0, 40), context), /too short/);
    expectWrongKey(() => cipher.decrypt(Buffer.alloc(0), context), /too short/);
    expectWrongKey(() => cipher.decrypt(Buffer.concat([sealed, Buffer.alloc(17)]), context), /authentication failed/);
    const whole = libsodiumSeal(sodium, key, randomBytes(CHUNK_PLAIN), context);
    expectWrongKey(() => cipher.decrypt(Buffer.concat([whole, whole.subarray(24)]), context), /after the final chunk/);
  });

  it('refuses a stream whose chunks were reordered', async () => {
    const key = randomBytes(32);
    const sealed = new SecretstreamCipher(key).encrypt(randomBytes(3 * CHUNK_PLAIN), 'c');
    const chunk = CHUNK_PLAIN + 17;
    const swapped = Buffer.concat([
      sealed.subarray(0, 24),
      sealed.subarray(24 + chunk, 24 + 2 * chunk),
      sealed.subarray(24, 24 + chunk),
      sealed.subarray(24 + 2 * chunk),
    ]);
    expectWrongKey(() => new SecretstreamCipher(key).decrypt(swapped, 'c'), /authentication failed/);
  });
});

describe('sealing into and opening into caller buffers', () => {
  it('seals into a SharedArrayBuffer at the size it announces, and libsodium opens it', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const cipher = new SecretstreamCipher(key);
    const plain = randomBytes(2 * CHUNK_PLAIN + 777);
    const out = Buffer.from(new SharedArrayBuffer(cipher.sealedSize(plain.length) + 100)).fill(0xee);
    const written = cipher.encryptInto(plain, context, out);
    expect(written).toBe(24 + plain.length + 3 * 17);
    expect(out.subarray(written).every((b) => b === 0xee)).toBe(true);
    expect(libsodiumOpen(sodium, key, out.subarray(0, written), context).plain.equals(plain)).toBe(true);
  });

  it('opens in place: the plaintext may overwrite the sealed bytes it comes from', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    for (const size of [0, 100, 3 * CHUNK_PLAIN + 5]) {
      const plain = randomBytes(size);
      const buffer = Buffer.from(new SharedArrayBuffer(24 + size + 4 * 17));
      const sealed = buffer.subarray(0, libsodiumSeal(sodium, key, plain, context).copy(buffer));
      const length = new SecretstreamCipher(key).decryptInto(sealed, context, sealed);
      expect(buffer.subarray(0, length).equals(plain)).toBe(true);
    }
  });

  it('seals in place: the plaintext may lie in the output buffer, sealedSize(out.length) - out.length bytes in', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const cipher = new SecretstreamCipher(key);
    const room = 4 * CHUNK_PLAIN + 1000;
    // Both sealing paths (a final chunk ≡ 0 mod 16 or not), whole chunks, and a plaintext filling all the room there is.
    for (const size of [0, 1, 16, CHUNK_PLAIN, CHUNK_PLAIN + 7, 3 * CHUNK_PLAIN + 32, room]) {
      const out = Buffer.from(new SharedArrayBuffer(cipher.sealedSize(room)));
      const at = cipher.sealedSize(out.length) - out.length;
      const plain = randomBytes(size);
      plain.copy(out, at);
      const written = cipher.encryptInto(out.subarray(at, at + size), context, out);
      expect(written, `${size} bytes`).toBe(cipher.sealedSize(size));
      expect(libsodiumOpen(sodium, key, out.subarray(0, written), context).plain.equals(plain), `${size} bytes`).toBe(true);
    }
    // The check can fail: a plaintext at the start of the buffer is overwritten before it is read.
    const out = Buffer.from(new SharedArrayBuffer(cipher.sealedSize(room)));
    const plain = randomBytes(room);
    plain.copy(out, 0);
    const written = cipher.encryptInto(out.subarray(0, room), context, out);
    expect(libsodiumOpen(sodium, key, out.subarray(0, written), context).plain.equals(plain)).toBe(false);
  });

  it('writes nothing of a forged final chunk and refuses buffers that are too small', () => {
    const cipher = new SecretstreamCipher(randomBytes(32));
    for (const size of [100, 96]) {
      const sealed = cipher.encrypt(randomBytes(size), context);
      sealed[30]! ^= 1;
      const out = Buffer.alloc(size, 0xee);
      expectWrongKey(() => cipher.decryptInto(sealed, context, out), /authentication failed/);
      expect(out.every((b) => b === 0xee)).toBe(true);
    }
    expect(() => cipher.encryptInto(Buffer.alloc(100), context, Buffer.alloc(24 + 100 + 16))).toThrow(RangeError);
    expect(() => cipher.decryptInto(cipher.encrypt(Buffer.alloc(100), context), context, Buffer.alloc(99))).toThrow(RangeError);
    expect(() => new PlainCipher().encryptInto(Buffer.alloc(100), context, Buffer.alloc(99))).toThrow(RangeError);
  });
});

describe('building a segment cipher from its name and key bytes', () => {
  it('builds the cipher a name stands for, and refuses unknown names and missing or short keys', () => {
    const key = randomBytes(32);
    const rebuilt = segmentCipher('xchacha20poly1305-secretstream', structuredClone(new Uint8Array(key)));
    expect(rebuilt.decrypt(new SecretstreamCipher(key).encrypt(Buffer.from('hello'), 'c'), 'c').toString()).toBe('hello');
    expect(segmentCipher('none')).toBeInstanceOf(PlainCipher);
    expect(() => segmentCipher('aes-256-gcm', key)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_FORMAT' }));
    expect(() => segmentCipher('xchacha20poly1305-secretstream')).toThrow(expect.objectContaining({ code: 'E_INVALID_KEY' }));
    expect(() => new SecretstreamCipher(randomBytes(16))).toThrow(expect.objectContaining({ code: 'E_INVALID_KEY' }));
  });

  it('seals in a worker thread given only the key bytes, into a SharedArrayBuffer libsodium then opens', async () => {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(32);
    const cipher = new SecretstreamCipher(key);
    const plain = randomBytes(CHUNK_PLAIN + 3001);
    const shared = Buffer.from(new SharedArrayBuffer(plain.length + cipher.sealedSize(plain.length)));
    plain.copy(shared);
    // The built module, as the backup's workers load it (`npm test` builds dist/ first).
    const moduleUrl = new URL('../../dist/core/crypto/segment-cipher.js', import.meta.url).href;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.moduleUrl).then(({ segmentCipher }) => parentPort.on('message', ({ name, key, shared, plainLength, context }) => {
         const buffer = Buffer.from(shared);
         const written = segmentCipher(name, key).encryptInto(buffer.subarray(0, plainLength), context, buffer.subarray(plainLength));
         parentPort.postMessage(written);
       }));`,
      { eval: true, workerData: { moduleUrl } },
    );
    try {
      worker.postMessage({ name: cipher.name, key, shared: shared.buffer, plainLength: plain.length, context });
      const [written] = (await once(worker, 'message')) as [number];
      expect(written).toBe(cipher.sealedSize(plain.length));
      const sealed = shared.subarray(plain.length, plain.length + written);
      expect(libsodiumOpen(sodium, key, sealed, context).plain.equals(plain)).toBe(true);
    } finally {
      await worker.terminate();
    }
  });
});
