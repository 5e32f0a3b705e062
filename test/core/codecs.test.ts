import { createCompressor } from '../../core/compression.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { getSodium } from '../../core/crypto/sodium.js';
import { describeCipherConformance, describeCompressorConformance } from '../conformance/codecs.js';

describeCompressorConformance('gzip', () => createCompressor('gzip', 6));
describeCompressorConformance('gzip level 1', () => createCompressor('gzip', 1));
describeCompressorConformance('brotli', () => createCompressor('brotli', 4));
describeCompressorConformance('none', () => createCompressor('none'));

describeCipherConformance('xchacha20poly1305 secretstream', async () => {
  const sodium = await getSodium();
  return {
    cipher: new SecretstreamCipher(sodium, sodium.randombytes_buf(32)),
    other: new SecretstreamCipher(sodium, sodium.randombytes_buf(32)),
  };
});
