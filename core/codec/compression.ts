/**
 * The built-in compression codecs, run synchronously on whole segments in
 * the pipeline's worker threads: zstd (zstd-napi: zstd is in node:zlib only
 * from Node 22.15), gzip, brotli and none. This module imports only
 * node:zlib, the zstd binding and the error class, so a worker loads it cheaply.
 */
import zlib from 'node:zlib';
import zstd from 'zstd-napi/binding.js';
import type { SegmentCodec } from '../contracts.js';
import { FailsafeError } from '../errors.js';

const OUTPUT_CHUNK = 1024 * 1024;

export type { SegmentCodec };
export type CompressionAlgorithm = 'zstd' | 'gzip' | 'brotli' | 'none';

export const DEFAULT_LEVELS: Record<CompressionAlgorithm, number> = { zstd: 1, gzip: 6, brotli: 4, none: 0 };
/**
 * zstd: the standard levels 1–19. Its negative levels trade ratio for speed
 * that level 1 already has, and levels 20–22 need windows far larger than a segment.
 */
export const LEVEL_RANGE: Record<CompressionAlgorithm, [number, number]> = { zstd: [1, 19], gzip: [1, 9], brotli: [0, 11], none: [0, 0] };

function checkLevel(algorithm: CompressionAlgorithm, level: number): void {
  // A manifest written by a later version may name an algorithm this one does not have.
  if (!Object.hasOwn(LEVEL_RANGE, algorithm)) throw new FailsafeError('E_UNSUPPORTED_FORMAT', `compression ${String(algorithm)} is not known to this version`);
  const [min, max] = LEVEL_RANGE[algorithm];
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new FailsafeError('E_CONFIG', `compression level for ${algorithm} must be an integer from ${min} to ${max}`);
  }
}

export function createSegmentCodec(algorithm: CompressionAlgorithm, level = DEFAULT_LEVELS[algorithm]): SegmentCodec {
  checkLevel(algorithm, level);
  switch (algorithm) {
    case 'zstd':
      return new ZstdCodec(level);
    case 'gzip':
      return {
        algorithm,
        compress: (src) => owned(zlib.gzipSync(src, gzipOptions(level))),
        compressScratch: (src) => zlib.gzipSync(src, gzipOptions(level)),
        decompress: (src, expectedSize) => owned(corruptIfThrows(algorithm, () => zlib.gunzipSync(src, outputOptions(expectedSize)))),
      };
    case 'brotli':
      return {
        algorithm,
        compress: (src) => owned(zlib.brotliCompressSync(src, brotliOptions(level, src.length))),
        compressScratch: (src) => zlib.brotliCompressSync(src, brotliOptions(level, src.length)),
        decompress: (src, expectedSize) => owned(corruptIfThrows(algorithm, () => zlib.brotliDecompressSync(src, outputOptions(expectedSize)))),
      };
    case 'none':
      return {
        algorithm,
        compress: (src) => asBuffer(src),
        compressScratch: (src) => asBuffer(src),
        decompress: (src, expectedSize) => {
          if (src.length > expectedSize) throw new FailsafeError('E_CORRUPT', `segment holds ${src.length} bytes, ${expectedSize} expected`);
          return asBuffer(src);
        },
      };
  }
}

// 1 MiB output chunks instead of zlib's 16 KiB: fewer buffers to concatenate, ~20% faster on 4 MiB segments.
const gzipOptions = (level: number): zlib.ZlibOptions => ({ level, chunkSize: OUTPUT_CHUNK });

function brotliOptions(level: number, size: number): zlib.BrotliOptions {
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: level,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
      // A 1 MiB window instead of 4 MiB: the same size on logs, SQLite pages and
      // random bytes at quality 4, and less memory per encoder (and decoder).
      [zlib.constants.BROTLI_PARAM_LGWIN]: 20,
    },
    chunkSize: OUTPUT_CHUNK,
  };
}

/** One compression and one decompression context, reused for every segment (creating them costs more than a small segment). */
class ZstdCodec implements SegmentCodec {
  readonly algorithm = 'zstd';
  readonly #cctx = new zstd.CCtx();
  readonly #dctx = new zstd.DCtx();
  #scratch: Buffer | undefined;

  constructor(level: number) {
    this.#cctx.setParameter(zstd.CParameter.compressionLevel, level);
  }

  compressScratch(src: Uint8Array, room?: Buffer): Buffer {
    const bound = zstd.compressBound(src.length);
    if (room && room.length >= bound) return room.subarray(0, this.#cctx.compress2(room, src));
    if (!this.#scratch || this.#scratch.length < bound) this.#scratch = Buffer.allocUnsafeSlow(bound);
    return this.#scratch.subarray(0, this.#cctx.compress2(this.#scratch, src));
  }

  compress(src: Uint8Array): Buffer {
    const bound = zstd.compressBound(src.length);
    const scratch = this.#scratch && this.#scratch.length >= bound ? this.#scratch : Buffer.allocUnsafeSlow(bound);
    const length = this.#cctx.compress2(scratch, src);
    // Nearly full (incompressible data): hand the buffer over rather than copy it, and take a new one next time.
    if (length >= scratch.length * 0.75) {
      this.#scratch = undefined;
      return scratch.subarray(0, length);
    }
    this.#scratch = scratch;
    const result = Buffer.allocUnsafeSlow(length);
    scratch.copy(result, 0, 0, length);
    return result;
  }

  /** zstd stops with an error where the output would pass the end of the buffer: more than expected is refused, never allocated. */
  decompress(src: Uint8Array, expectedSize: number, into?: Buffer): Buffer {
    // zstd reads no frame at all as no output; compress always writes one.
    if (src.length === 0) throw corrupted(this.algorithm, new Error('no zstd frame'));
    const output = into ? into.subarray(0, expectedSize) : Buffer.allocUnsafeSlow(expectedSize);
    return corruptIfThrows(this.algorithm, () => output.subarray(0, this.#dctx.decompress(output, src)));
  }
}

/**
 * zlib's sync calls return a view of their last output chunk (1 MiB even for a
 * few bytes) or, for tiny results, a slice of Buffer's shared pool, which
 * cannot be transferred: such results are copied into a buffer of their own.
 */
function owned(result: Buffer): Buffer {
  if (result.byteOffset === 0 && result.buffer.byteLength <= Math.max(result.length * 1.25, result.length + 65_536)) return result;
  const copy = Buffer.allocUnsafeSlow(result.length);
  result.copy(copy);
  return copy;
}

function asBuffer(src: Uint8Array): Buffer {
  return Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.length);
}

/**
 * With the size known, one output buffer a little larger than it: zlib then
 * neither concatenates chunks nor allocates a spare one, which halves the
 * garbage of a restore. More output than expected is refused, not buffered.
 */
function outputOptions(expectedSize?: number): zlib.ZlibOptions & zlib.BrotliOptions {
  if (expectedSize === undefined) return { chunkSize: OUTPUT_CHUNK };
  return { chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, expectedSize + 64), maxOutputLength: Math.max(1, expectedSize) };
}

function corrupted(algorithm: string, err: unknown): FailsafeError {
  return new FailsafeError('E_CORRUPT', `corrupted ${algorithm} data: ${(err as Error).message}`, { cause: err });
}

function corruptIfThrows<T>(algorithm: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw corrupted(algorithm, err);
  }
}
