/**
 * Reading segments back: fetch, check the stored SHA-256, decrypt, decompress,
 * check the plaintext SHA-256. Several segments are fetched ahead in parallel
 * while the output stays in order and bounded.
 */
import { Readable } from 'node:stream';
import { FailsafeError, isFailsafeError } from '../errors.js';
import { segmentContext } from '../format/layout.js';
import { sha256, type SegmentRecord } from '../format/manifest.js';
import { ParallelMap } from '../pipeline/parallel-map.js';
import type { OpenedSnapshot } from '../snapshots.js';

export async function readSegment(snapshot: OpenedSnapshot, record: SegmentRecord, signal?: AbortSignal): Promise<Buffer> {
  const { storage, manifest } = snapshot;
  const what = `${storage.targetName}:${record.key}`;
  let stored: Buffer;
  try {
    stored = await storage.getBuffer(record.key, { signal });
  } catch (err) {
    if (isFailsafeError(err, 'E_NOT_FOUND')) throw new FailsafeError('E_CORRUPT', `segment object ${what} is missing`, { cause: err, object: record.key });
    throw err;
  }
  if (stored.length !== record.storedSize || sha256(stored) !== record.sha256) {
    throw new FailsafeError('E_CHECKSUM', `checksum mismatch in ${what}: the stored object was altered or damaged`, { object: record.key });
  }
  let plain: Buffer;
  try {
    plain = await snapshot.compressor.decompress(snapshot.cipher.decrypt(stored, segmentContext(manifest.id, record.index)), record.plainSize);
  } catch (err) {
    if (isFailsafeError(err)) throw new FailsafeError(err.code, `${err.message} (${what})`, { cause: err, object: record.key });
    throw err;
  }
  if (plain.length !== record.plainSize || sha256(plain) !== record.plainSha256) {
    throw new FailsafeError('E_CHECKSUM', `checksum mismatch in the content of ${what}`, { object: record.key });
  }
  return plain;
}

export interface SegmentStreamOptions {
  /** First segment to read (default 0). */
  from?: number;
  /** Bytes to skip at the start of the first segment. */
  skip?: number;
  /** Segments fetched ahead in parallel. */
  ahead?: number;
  signal?: AbortSignal;
}

/** The snapshot's tar stream (or its tail from a segment and offset), verified segment by segment. */
export function segmentStream(snapshot: OpenedSnapshot, options: SegmentStreamOptions = {}): Readable {
  const from = options.from ?? 0;
  const records = snapshot.manifest.segments.slice(from);
  const skip = options.skip ?? 0;
  const fetcher = new ParallelMap<number, Buffer>(options.ahead ?? 2, async (index) => {
    const plain = await readSegment(snapshot, records[index]!, options.signal);
    return index === 0 && skip > 0 ? plain.subarray(skip) : plain;
  });
  const indices = Readable.from(records.map((_, i) => i), { objectMode: true, highWaterMark: 1 });
  indices.pipe(fetcher);
  indices.on('error', (err) => fetcher.destroy(err));
  // Buffers out of an object-mode stream into a byte stream for the tar parser.
  return Readable.from(fetcher, { objectMode: false, highWaterMark: 1 });
}
