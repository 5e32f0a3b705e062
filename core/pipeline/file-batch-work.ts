/**
 * Several small local files cut in a segment worker as one job, answered by
 * one message: each file's chunks (id, length, and for a chunk sealed here
 * where its sealed bytes lie) and its result or its own error, with the
 * sealed bytes of the whole batch in one buffer moved to the main thread.
 *
 * Why: a small file takes a worker less time than its messages, promises and
 * bookkeeping take the main thread, which was the bottleneck over the bench's
 * 3,000 small files (workers busy 40-70%, docs/performance.md). A batch is
 * bounded by the main thread (a few files, about a MiB), so its sealed bytes
 * need no credits: they travel with the reply, and the batches a worker may
 * hold bound the memory.
 *
 * A file that cannot be read fails alone, with the message it would have had
 * as a job of its own; its chunks cut before the failure still come back,
 * since this thread counts them as sealed here. A stopped run ends the batch.
 */
import { errnoOf, FailsafeError } from '../errors.js';
import { sealChunk, type FileChunkingSetup } from './chunk-work.js';
import { claimChunk, cutLocalFile, stopped, type FileChunkResult } from './file-chunk-work.js';
import type { SegmentTools } from './segment-work.js';

export interface FileBatchRequest {
  /** Each file's path and the bytes to read, as the source announced (see FileChunkRequest). */
  files: { path: string; size: number }[];
  /** `source "<name>"`, for messages. */
  source: string;
}

export interface BatchChunk {
  id: Uint8Array;
  length: number;
  /** Only for a chunk this worker found new: where its sealed bytes lie in the reply's `sealed`. */
  sealed?: { at: number; length: number };
}

export type BatchFile = { chunks: BatchChunk[] } & ({ result: FileChunkResult } | { error: { message: string; code?: string } });

export interface FileBatchResult {
  files: BatchFile[];
  /** The sealed bytes of the batch's new chunks, end to end. */
  sealed: Uint8Array;
}

/** Where sealed chunks gather before the reply: grown as needed, reused by the next batch. */
let gather: Buffer = Buffer.allocUnsafeSlow(2 << 20);

export function chunkLocalFiles(t: SegmentTools, setup: FileChunkingSetup, request: FileBatchRequest): { result: FileBatchResult; transfer: ArrayBuffer[] } {
  let used = 0;
  const seal = (digest: Buffer, plain: Buffer): { at: number; length: number } => {
    // Room for the chunk grown by compression (zstd's bound is 1/256 more) and sealing.
    room(used + plain.length + (plain.length >> 6) + 4096, used);
    const sealed = sealChunk(t, digest, plain, gather.subarray(used));
    if (sealed.buffer !== gather.buffer) {
      room(used + sealed.length, used);
      sealed.copy(gather, used);
    }
    const at = used;
    used += sealed.length;
    return { at, length: sealed.length };
  };
  const files = request.files.map((file): BatchFile => {
    if (Atomics.load(setup.credits, 0) !== 0) throw stopped();
    const chunks: BatchChunk[] = [];
    try {
      const result = cutLocalFile(setup, { ...file, source: request.source }, (plain) => {
        const { digest, id, fresh } = claimChunk(setup, plain);
        chunks.push(fresh ? { id, length: plain.length, sealed: seal(digest, plain) } : { id, length: plain.length });
      });
      return { chunks, result };
    } catch (err) {
      if (err instanceof FailsafeError && err.code === 'E_ABORTED') throw err;
      const error = err instanceof FailsafeError ? { message: err.message, code: err.code } : { message: `${errnoOf(err) ?? err}` };
      return { chunks, error };
    }
  });
  const sealed = new Uint8Array(used);
  sealed.set(gather.subarray(0, used));
  return { result: { files, sealed }, transfer: [sealed.buffer] };
}

/** Grows the gathering buffer to `size`, keeping its first `keep` bytes. */
function room(size: number, keep: number): void {
  if (gather.length >= size) return;
  const grown = Buffer.allocUnsafeSlow(Math.max(size, 2 * gather.length));
  gather.copy(grown, 0, 0, keep);
  gather = grown;
}
