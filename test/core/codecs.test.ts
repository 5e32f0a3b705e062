import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCompressor } from '../../core/compression.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { describeCipherConformance, describeCompressorConformance } from '../conformance/codecs.js';

describeCompressorConformance('gzip', () => createCompressor('gzip', 6));
describeCompressorConformance('gzip level 1', () => createCompressor('gzip', 1));
describeCompressorConformance('brotli', () => createCompressor('brotli', 4));
describeCompressorConformance('none', () => createCompressor('none'));

describeCipherConformance('xchacha20poly1305 secretstream', async () => ({
  cipher: new SecretstreamCipher(randomBytes(32)),
  other: new SecretstreamCipher(randomBytes(32)),
}));

describe('decompress with the expected size', () => {
  for (const algorithm of ['gzip', 'brotli'] as const) {
    it(`${algorithm}: gives the data back in one buffer, and refuses more output than expected`, async () => {
      const codec = createCompressor(algorithm);
      const data = Buffer.from('failsafe '.repeat(50_000));
      const packed = await codec.compress(data);
      const plain = await codec.decompress(packed, data.length);
      expect(plain.equals(data)).toBe(true);
      await expect(codec.decompress(packed, data.length - 1)).rejects.toMatchObject({ code: 'E_CORRUPT' });
    });
  }
});
