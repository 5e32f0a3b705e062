/**
 * Reading segments back: fetch, check, decrypt, decompress, check — all in
 * worker threads when the target is a local folder, the last four otherwise
 * (core/pipeline/segment-workers.ts). Several segments are fetched ahead in
 * parallel while the output stays in order and bounded.
 */
import { Readable } from 'node:stream';
import { FailsafeError, isFailsafeError } from '../errors.js';
import { segmentContext } from '../repository/layout.js';
import type { SegmentRecord } from '../format/manifest.js';
import { ParallelMap } from '../pipeline/parallel-map.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { SegmentPool } from './segment-pool.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';

async function readSegment(
  snapshot: OpenedSnapshot,
  workers: SegmentWorkers,
  record: SegmentRecord,
  contentChecked: boolean,
  out: Buffer,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { storage, manifest } = snapshot;
  const what = `${storage.targetName}:${record.key}`;
  const { plainSha256, ...sizes } = record;
  const request = {
    context: segmentContext(manifest.id, record.index),
    what,
    ...sizes,
    ...(contentChecked || plainSha256 === undefined ? {} : { plainSha256 }),
    out,
  };
  try {
    // A local file is read by the worker itself; anything else is fetched here and moved to it.
    const file = await storage.filePath(record.key);
    // A fetched segment that broke or fails its check on the way is fetched again; a local file's bytes did not travel.
    const fetch = async (): Promise<unknown> =>
      workers.open(file === undefined ? { ...request, stored: await storage.getBuffer(record.key, { signal }) } : { ...request, file });
    await (file === undefined ? storage.readAgain(fetch, { signal }) : fetch());
    // The worker checked the size and wrote the plaintext into `out`; this thread's own view of it is what the pool knows.
    return out.subarray(0, record.plainSize);
  } catch (err) {
    if (isFailsafeError(err, 'E_NOT_FOUND')) throw new FailsafeError('E_CORRUPT', `segment object ${what} is missing`, { cause: err, object: record.key });
    if (isFailsafeError(err)) throw new FailsafeError(err.code, err.message, { cause: err, object: record.key });
    throw err;
  }
}

export interface SegmentStreamOptions {
  /** First segment to read (default 0). */
  from?: number;
  /** Bytes to skip at the start of the first segment. */
  skip?: number;
  /** Segments fetched ahead in parallel, and worker threads opening them. */
  ahead?: number;
  /**
   * The reader checks every file's SHA-256 (archiveEntries, when
   * `checksEveryFile`): each segment's plaintext SHA-256 would check the
   * same bytes a second time, so it is skipped. Sizes are still checked.
   */
  contentChecked?: boolean;
  signal?: AbortSignal;
}

/**
 * A segment stream's chunks are pooled buffers: its reader gives each back
 * (`releaseChunk`) once nothing refers to it any more (core/read/tar-reader.ts).
 */
export interface PooledChunks {
  releaseChunk(chunk: Uint8Array): void;
}

/** The snapshot's tar stream (or its tail from a segment and offset), verified segment by segment. */
export function segmentStream(snapshot: OpenedSnapshot, options: SegmentStreamOptions = {}): Readable & PooledChunks {
  const from = options.from ?? 0;
  const records = snapshot.manifest.segments.slice(from);
  const skip = options.skip ?? 0;
  const ahead = Math.max(1, options.ahead ?? 2);
  const workers = new SegmentWorkers(snapshot.codecs, Math.min(ahead, Math.max(1, records.length)));
  // Local segment files are read by the workers in a few milliseconds: one buffer per worker and the one being read
  // keep them busy (1 GiB: as fast with 3 as with 6, 140-147 MB peak against 150-161). A remote fetch takes a round
  // trip, so there are buffers for the fetches ahead too: one per segment being fetched or opened, one waiting in
  // each stream stage between here and the reader, one being read.
  const buffers = snapshot.storage.localFiles ? ahead + 1 : ahead + 4;
  const pool = new SegmentPool(
    buffers,
    records.reduce((max, r) => Math.max(max, r.plainSize), 0),
  );
  // One more fetch than workers: the next object is read while every worker is busy.
  const fetcher = new ParallelMap<number, Buffer>(ahead + 1, async (index) => {
    const out = await pool.acquire();
    try {
      const plain = await readSegment(snapshot, workers, records[index]!, options.contentChecked === true, out, options.signal);
      return index === 0 && skip > 0 ? plain.subarray(skip) : plain;
    } catch (err) {
      pool.release(out);
      throw err;
    }
  });
  const indices = Readable.from(
    records.map((_, i) => i),
    { objectMode: true, highWaterMark: 1 },
  );
  indices.pipe(fetcher);
  indices.on('error', (err) => fetcher.destroy(err));
  // Buffers out of an object-mode stream into a byte stream for the tar parser.
  const stream = Readable.from(fetcher, { objectMode: false, highWaterMark: 1 });
  // However the stream ends (read to the end, failed or abandoned by its reader), the threads go with it.
  stream.once('close', () => void workers.close());
  return Object.assign(stream, { releaseChunk: (chunk: Uint8Array) => pool.release(chunk) });
}
