/**
 * Conformance suites for the codec roles (as keyv publishes its test suite):
 * any SegmentCodec (the compression role) or SegmentCipher must pass them. Plugin authors can run
 * them against their own implementations.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SegmentCipher, SegmentCodec } from '../../core/contracts.js';
import { isFailsafeError } from '../../core/errors.js';

const samples = (): Record<string, Buffer> => ({
  empty: Buffer.alloc(0),
  byte: Buffer.from([42]),
  text: Buffer.from('failsafe '.repeat(10_000)),
  random: randomBytes(300_000),
  large: Buffer.concat([randomBytes(4 * 1024 * 1024), Buffer.alloc(4 * 1024 * 1024, 7)]),
});

export function describeSegmentCodecConformance(name: string, create: () => SegmentCodec): void {
  describe(`segment codec conformance: ${name}`, () => {
    const corrupt = (run: () => unknown): boolean => {
      try {
        run();
      } catch (err) {
        return isFailsafeError(err, 'E_CORRUPT');
      }
      return false;
    };
    for (const [label, data] of Object.entries(samples())) {
      it(`round-trips ${label} data`, () => {
        const codec = create();
        expect(codec.decompress(codec.compress(data), data.length).equals(data)).toBe(true);
      });
    }
    it('shrinks repetitive text unless it is "none"', () => {
      const codec = create();
      const text = samples().text!;
      const packed = codec.compress(text);
      if (codec.algorithm === 'none') expect(packed.length).toBe(text.length);
      else expect(packed.length).toBeLessThan(text.length / 10);
    });
    it('hands over results it never touches again, each the only view of its memory', () => {
      const codec = create();
      const { text, random, byte } = samples();
      const results = [text!, random!, byte!, text!].map((data) => ({ data, packed: codec.compress(data) }));
      const copies = results.map(({ packed }) => Buffer.from(packed));
      const plain = results.map(({ data, packed }) => codec.decompress(packed, data.length));
      results.forEach(({ data, packed }, i) => {
        expect(packed.equals(copies[i]!)).toBe(true);
        expect(plain[i]!.equals(data)).toBe(true);
      });
      if (codec.algorithm === 'none') return;
      for (const result of [...results.map((r) => r.packed), ...plain]) {
        expect(result.byteOffset).toBe(0);
        expect(result.buffer.byteLength).toBeLessThanOrEqual(Math.max(result.length * 1.34, result.length + 65_536));
      }
    });
    it('compressScratch gives the same stream as compress, valid until the next call', () => {
      const codec = create();
      const { text, random } = samples();
      for (const data of [text!, random!, Buffer.alloc(0)]) {
        const scratch = Buffer.from(codec.compressScratch(data));
        expect(codec.decompress(scratch, data.length).equals(data)).toBe(true);
        expect(scratch.equals(codec.compress(data))).toBe(true);
      }
    });
    it('compressScratch with room gives the same stream, written into the room by a codec that can (zstd), within its bounds', () => {
      const codec = create();
      const { text, random } = samples();
      for (const data of [text!, random!, Buffer.alloc(0)]) {
        const buffer = Buffer.from(new SharedArrayBuffer(data.length + 100_000)).fill(0xee);
        const room = buffer.subarray(1000, buffer.length - 1000);
        const result = codec.compressScratch(data, room);
        expect(Buffer.from(result).equals(codec.compress(data))).toBe(true);
        if (codec.algorithm === 'zstd') expect(result.buffer === buffer.buffer && result.byteOffset === room.byteOffset).toBe(true);
        expect(buffer.subarray(0, 1000).every((b) => b === 0xee) && buffer.subarray(buffer.length - 1000).every((b) => b === 0xee)).toBe(true);
      }
    });
    it('decompresses into a given output buffer, or into its own, the same bytes either way', () => {
      const codec = create();
      for (const data of Object.values(samples())) {
        const output = Buffer.from(new SharedArrayBuffer(data.length + 10)).fill(0xee);
        const plain = codec.decompress(codec.compress(data), data.length, output);
        expect(plain.equals(data)).toBe(true);
        // A codec that wrote into it used only the bytes it was given.
        if (plain.buffer === output.buffer) expect(output.subarray(data.length).every((b) => b === 0xee)).toBe(true);
      }
    });
    it('refuses more output than the expected size with E_CORRUPT', () => {
      const codec = create();
      const data = samples().text!;
      expect(corrupt(() => codec.decompress(codec.compress(data), data.length - 1))).toBe(true);
    });
    it('rejects corrupted input with E_CORRUPT', () => {
      const codec = create();
      if (codec.algorithm === 'none') return;
      const data = samples().random!;
      const broken = Buffer.from(codec.compress(data));
      broken.fill(0xff, 0, Math.min(64, broken.length));
      expect(corrupt(() => codec.decompress(broken, data.length))).toBe(true);
      expect(corrupt(() => codec.decompress(Buffer.alloc(0), data.length))).toBe(true);
    });
  });
}

export function describeCipherConformance(name: string, create: () => Promise<{ cipher: SegmentCipher; other: SegmentCipher }>): void {
  describe(`cipher conformance: ${name}`, () => {
    for (const [label, data] of Object.entries(samples())) {
      it(`round-trips ${label} data and hides it`, async () => {
        const { cipher } = await create();
        const sealed = cipher.encrypt(data, 'snap/1');
        expect(cipher.decrypt(sealed, 'snap/1').equals(data)).toBe(true);
        if (data.length >= 16) expect(sealed.includes(data.subarray(0, 16))).toBe(false);
      });
    }
    it('seals into and opens from SharedArrayBuffer-backed buffers of the sizes it announces', async () => {
      const { cipher } = await create();
      for (const data of [Buffer.alloc(0), randomBytes(200_000)]) {
        const sealed = Buffer.from(new SharedArrayBuffer(cipher.sealedSize(data.length)));
        expect(cipher.encryptInto(data, 'c', sealed)).toBe(sealed.length);
        expect(cipher.openedSize(sealed.length)).toBe(data.length);
        const plain = Buffer.from(new SharedArrayBuffer(data.length + 8)).fill(1);
        expect(cipher.decryptInto(sealed, 'c', plain)).toBe(data.length);
        expect(plain.subarray(0, data.length).equals(data)).toBe(true);
        expect(cipher.decrypt(sealed, 'c').equals(data)).toBe(true);
        expect(cipher.encrypt(data, 'c').length).toBe(sealed.length);
      }
    });
    it('gives different ciphertext for the same input', async () => {
      const { cipher } = await create();
      const data = Buffer.from('same input');
      expect(cipher.encrypt(data, 'c').equals(cipher.encrypt(data, 'c'))).toBe(false);
    });
    it("reseals the same input with a sealed segment's header into the same bytes, and other input into others", async () => {
      const { cipher, other } = await create();
      for (const data of [Buffer.alloc(0), Buffer.from('same input'), randomBytes(200_000)]) {
        const sealed = cipher.encrypt(data, 'c');
        const header = cipher.headerOf(sealed);
        const again = Buffer.alloc(cipher.sealedSize(data.length));
        expect(cipher.resealInto(data, 'c', again, header)).toBe(sealed.length);
        expect(again.equals(sealed)).toBe(true);
        // In place, as a backup seals: the input far enough into the output.
        const inPlace = Buffer.alloc(cipher.sealedSize(data.length) + 8);
        const at = cipher.sealedSize(inPlace.length) - inPlace.length;
        data.copy(inPlace, at);
        expect(inPlace.subarray(0, cipher.resealInto(inPlace.subarray(at, at + data.length), 'c', inPlace, header)).equals(sealed)).toBe(true);
        if (data.length > 0) {
          const changed = Buffer.from(data);
          changed[0] = changed[0]! ^ 1;
          const differs = Buffer.alloc(cipher.sealedSize(data.length));
          cipher.resealInto(changed, 'c', differs, header);
          expect(differs.equals(sealed)).toBe(false);
          expect(cipher.decrypt(differs, 'c').equals(changed)).toBe(true);
        }
        // Another key sealing with the same header gives other bytes.
        const otherSealed = Buffer.alloc(other.sealedSize(data.length));
        other.resealInto(data, 'c', otherSealed, header);
        expect(otherSealed.equals(sealed)).toBe(false);
      }
    });
    const wrongKey = (err: unknown): boolean => isFailsafeError(err, 'E_WRONG_KEY');
    it('rejects a flipped byte anywhere with E_WRONG_KEY', async () => {
      const { cipher } = await create();
      const sealed = cipher.encrypt(randomBytes(200_000), 'c');
      for (const position of [0, 30, 70_000, sealed.length - 1]) {
        const tampered = Buffer.from(sealed);
        tampered[position] = tampered[position]! ^ 1;
        expect(() => cipher.decrypt(tampered, 'c')).toThrow();
        try {
          cipher.decrypt(tampered, 'c');
        } catch (err) {
          expect(wrongKey(err)).toBe(true);
        }
      }
    });
    it('rejects truncated data (a dropped final chunk)', async () => {
      const { cipher } = await create();
      const sealed = cipher.encrypt(randomBytes(200_000), 'c');
      expect(() => cipher.decrypt(sealed.subarray(0, 24 + 65_536 + 17), 'c')).toThrow(/truncated|authentication/);
      expect(() => cipher.decrypt(Buffer.alloc(10), 'c')).toThrow(/wrong key/);
    });
    it('rejects data after the final chunk', async () => {
      const { cipher } = await create();
      const sealed = cipher.encrypt(Buffer.from('short'), 'c');
      expect(() => cipher.decrypt(Buffer.concat([sealed, Buffer.alloc(40)]), 'c')).toThrow(/wrong key/);
    });
    it('rejects the wrong key and the wrong context', async () => {
      const { cipher, other } = await create();
      const sealed = cipher.encrypt(Buffer.from('secret'), 'snap/1');
      expect(() => other.decrypt(sealed, 'snap/1')).toThrow(/wrong key/);
      expect(() => cipher.decrypt(sealed, 'snap/2')).toThrow(/wrong key/);
    });
  });
}

/**
 * The checksum role (core/codec/stages.ts): a function of a stored object's
 * bytes to a hex digest. It must be deterministic, see every byte, and not
 * depend on how the bytes are viewed (a worker hands it views of shared memory).
 */
export function describeChecksumConformance(name: string, create: () => (data: Uint8Array) => string): void {
  describe(`checksum conformance: ${name}`, () => {
    it('gives lowercase hex of a fixed length, the same for the same bytes', () => {
      const checksum = create();
      const lengths = new Set<number>();
      for (const data of Object.values(samples())) {
        const digest = checksum(data);
        expect(digest).toMatch(/^[0-9a-f]+$/);
        expect(create()(Buffer.from(data))).toBe(digest);
        lengths.add(digest.length);
      }
      expect(lengths.size).toBe(1);
      expect([...lengths][0]).toBeGreaterThanOrEqual(32);
    });
    it('changes when any byte changes, and for a view of the same bytes stays the same', () => {
      const checksum = create();
      const data = randomBytes(100_000);
      const digest = checksum(data);
      for (const position of [0, 50_000, data.length - 1]) {
        const changed = Buffer.from(data);
        changed[position] = changed[position]! ^ 1;
        expect(checksum(changed)).not.toBe(digest);
      }
      const padded = Buffer.concat([Buffer.alloc(7), data, Buffer.alloc(9)]);
      expect(checksum(new Uint8Array(padded.buffer, padded.byteOffset + 7, data.length))).toBe(digest);
    });
  });
}
