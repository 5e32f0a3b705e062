import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCompressor, createSegmentCodec, LEVEL_RANGE, type CompressionAlgorithm } from '../../core/codec/compression.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { describeCipherConformance, describeCompressorConformance, describeSegmentCodecConformance } from '../conformance/codecs.js';

const algorithms = Object.keys(LEVEL_RANGE) as CompressionAlgorithm[];

describeCompressorConformance('zstd', () => createCompressor('zstd', 3));
describeCompressorConformance('zstd level 1', () => createCompressor('zstd', 1));
describeCompressorConformance('gzip', () => createCompressor('gzip', 6));
describeCompressorConformance('gzip level 1', () => createCompressor('gzip', 1));
describeCompressorConformance('brotli', () => createCompressor('brotli', 4));
describeCompressorConformance('none', () => createCompressor('none'));
for (const algorithm of algorithms) describeSegmentCodecConformance(`${algorithm}, sync`, () => createSegmentCodec(algorithm));
describeSegmentCodecConformance('zstd level 19, sync', () => createSegmentCodec('zstd', 19));

describeCipherConformance('xchacha20poly1305 secretstream', async () => ({
  cipher: new SecretstreamCipher(randomBytes(32)),
  other: new SecretstreamCipher(randomBytes(32)),
}));

describe('decompress with the expected size', () => {
  for (const algorithm of ['zstd', 'gzip', 'brotli'] as const) {
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

describe('segment codecs and compressors', () => {
  // Workers compress with the sync codec; a restore may read with either.
  const data = Buffer.concat([randomBytes(100_000), Buffer.from('log line 42\n'.repeat(30_000))]);
  for (const algorithm of algorithms) {
    it(`${algorithm}: each reads what the other wrote`, async () => {
      const sync = createSegmentCodec(algorithm, LEVEL_RANGE[algorithm][1]);
      const async = createCompressor(algorithm, LEVEL_RANGE[algorithm][1]);
      expect((await async.decompress(sync.compress(data), data.length)).equals(data)).toBe(true);
      expect(sync.decompress(await async.compress(data), data.length).equals(data)).toBe(true);
    });
  }
  it('zstd: a truncated or trailing-garbage segment is corrupt, with or without the expected size', async () => {
    const codec = createCompressor('zstd');
    const packed = await codec.compress(data);
    for (const broken of [packed.subarray(0, packed.length - 10), Buffer.concat([packed, Buffer.from('junk')])]) {
      await expect(codec.decompress(broken, data.length)).rejects.toMatchObject({ code: 'E_CORRUPT' });
      await expect(codec.decompress(broken)).rejects.toMatchObject({ code: 'E_CORRUPT' });
    }
  });
  it('levels outside the range are a config error; an algorithm from a later version is an unsupported format', () => {
    expect(() => createSegmentCodec('zstd', 20)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => createCompressor('zstd', 0)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => createCompressor('lz4' as CompressionAlgorithm, 1)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_FORMAT' }));
  });
});
