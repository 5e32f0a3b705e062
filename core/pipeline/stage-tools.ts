/**
 * Builds one thread's stage instances from a SegmentCodecSpec: the built-in
 * codecs, cipher and SHA-256, or the implementations a job registered
 * (core/codec/stages.ts), imported by the thread itself.
 */
import { createSegmentCodec, type CompressionAlgorithm } from '../codec/compression.js';
import { loadStage } from '../codec/stages.js';
import type { SegmentCipher, SegmentCodec } from '../contracts.js';
import { segmentCipher } from '../crypto/segment-cipher.js';
import { FailsafeError } from '../errors.js';
import { sha256Hex, type SegmentCodecSpec, type SegmentTools } from './segment-work.js';

/** A checksum implementation: hex digest of a stored object's bytes. */
export type Checksum = (data: Uint8Array) => string;

async function codecOf(spec: SegmentCodecSpec['compression']): Promise<SegmentCodec> {
  // Throws for an algorithm this version does not know, rather than passing its bytes through as they are.
  if (!spec.implementation) return createSegmentCodec(spec.algorithm as CompressionAlgorithm, spec.level);
  const codec = (await loadStage<(level: number) => SegmentCodec>(spec.implementation, 'compression'))(spec.level);
  if (codec.algorithm !== spec.algorithm)
    throw new FailsafeError('E_CONFIG', `the compression module for "${spec.algorithm}" made a "${codec.algorithm}" codec`);
  return codec;
}

async function cipherOf(spec: SegmentCodecSpec['cipher']): Promise<SegmentCipher> {
  if (!spec.implementation) return segmentCipher(spec.name, spec.key);
  return (await loadStage<(name: string, key?: Uint8Array) => SegmentCipher>(spec.implementation, 'cipher'))(spec.name, spec.key);
}

async function checksumOf(spec: SegmentCodecSpec['checksum']): Promise<Checksum> {
  if (spec === undefined || spec.name === 'sha256') return sha256Hex;
  if (!spec.implementation)
    throw new FailsafeError('E_UNSUPPORTED_FORMAT', `checksum "${spec.name}" is not known to this version and no implementation was registered`);
  return (await loadStage<() => Checksum>(spec.implementation, 'checksum'))();
}

export async function buildSegmentTools(spec: SegmentCodecSpec): Promise<SegmentTools> {
  const [codec, cipher, checksum] = await Promise.all([codecOf(spec.compression), cipherOf(spec.cipher), checksumOf(spec.checksum)]);
  return {
    cipher,
    checksum,
    compress: (d) => codec.compress(d),
    compressScratch: (d, room) => codec.compressScratch(d, room),
    decompress: (d, n, o) => codec.decompress(d, n, o),
  };
}
