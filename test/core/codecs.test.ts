import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSegmentCodec, LEVEL_RANGE, type CompressionAlgorithm } from '../../core/codec/compression.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { describeChecksumConformance, describeCipherConformance, describeSegmentCodecConformance } from '../conformance/codecs.js';
import { sha256Hex } from '../../core/pipeline/segment-work.js';
import type { SegmentCodec } from '../../core/contracts.js';
// @ts-expect-error a plain JavaScript fixture without types
import { createSha1, createTaggedCodec } from '../fixtures/custom-stages.js';

const algorithms = Object.keys(LEVEL_RANGE) as CompressionAlgorithm[];

for (const algorithm of algorithms) describeSegmentCodecConformance(`${algorithm}, sync`, () => createSegmentCodec(algorithm));
describeSegmentCodecConformance('zstd level 19, sync', () => createSegmentCodec('zstd', 19));

describeChecksumConformance('sha256 (built in)', () => sha256Hex);
// The stages test/api/composition.test.ts registers through the container pass the same suites.
describeChecksumConformance('sha1 (a registered checksum)', () => createSha1() as (data: Uint8Array) => string);
describeSegmentCodecConformance('tagged (a registered codec)', () => createTaggedCodec(0) as SegmentCodec);

describeCipherConformance('xchacha20poly1305 secretstream', async () => ({
  cipher: new SecretstreamCipher(randomBytes(32)),
  other: new SecretstreamCipher(randomBytes(32)),
}));

describe('segment codecs', () => {
  const data = Buffer.concat([randomBytes(100_000), Buffer.from('log line 42\n'.repeat(30_000))]);
  for (const algorithm of ['zstd', 'gzip', 'brotli'] as const) {
    it(`${algorithm}: gives the data back at its highest level, and refuses more output than expected`, () => {
      const codec = createSegmentCodec(algorithm, LEVEL_RANGE[algorithm][1]);
      const packed = codec.compress(data);
      expect(codec.decompress(packed, data.length).equals(data)).toBe(true);
      expect(() => codec.decompress(packed, data.length - 1)).toThrow(expect.objectContaining({ code: 'E_CORRUPT' }));
    });
  }
  it('zstd: a truncated or trailing-garbage segment is corrupt', () => {
    const codec = createSegmentCodec('zstd');
    const packed = codec.compress(data);
    for (const broken of [packed.subarray(0, packed.length - 10), Buffer.concat([packed, Buffer.from('junk')])]) {
      expect(() => codec.decompress(broken, data.length)).toThrow(expect.objectContaining({ code: 'E_CORRUPT' }));
    }
  });
  it('levels outside the range are a config error; an algorithm from a later version is an unsupported format', () => {
    expect(() => createSegmentCodec('zstd', 20)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => createSegmentCodec('zstd', 0)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => createSegmentCodec('lz4' as CompressionAlgorithm, 1)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_FORMAT' }));
  });
});
