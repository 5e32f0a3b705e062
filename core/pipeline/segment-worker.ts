/**
 * A worker thread of the segment pool (core/pipeline/segment-workers.ts):
 * builds the snapshot's codecs from its first message (it may have been
 * started before they were known: core/threads/spare-threads.ts) and answers
 * seal and open requests one at a time. Replies transfer their output
 * buffers, so a segment's bytes are never copied between threads.
 */
import { fstatSync, readSync } from 'node:fs';
import { withStoredFile } from './stored-file.js';
import { parentPort } from 'node:worker_threads';
import { FailsafeError } from '../errors.js';
import {
  asBuffer,
  openSegment,
  ownsWholeBuffer,
  sealSegment,
  type OpenJob,
  type SealRequest,
  type SegmentCodecSpec,
  type SegmentTools,
} from './segment-work.js';
import { buildSegmentTools } from './stage-tools.js';
import { collectYoungGarbage } from '../threads/minor-gc.js';
import { chunkLocalFile, startFileChunking, type FileChunkMessage, type FileChunkRequest } from './file-chunk-work.js';
import { chunkLocalFiles, type FileBatchRequest } from './file-batch-work.js';
import { hashOrSealChunk, openChunk, type ChunkHashRequest, type ChunkingSetup, type ChunkOpenRequest } from './chunk-work.js';
import { openChunkRun, type ChunkRunRequest, type RestoreSetup } from './chunk-run-work.js';

export type WorkerRequest =
  | { id: number; op: 'seal'; request: SealRequest }
  | { id: number; op: 'open'; request: OpenJob }
  | { id: number; op: 'chunk'; request: ChunkHashRequest }
  | { id: number; op: 'open-chunk'; request: ChunkOpenRequest }
  | { id: number; op: 'open-run'; request: ChunkRunRequest }
  | { id: number; op: 'chunk-file'; request: FileChunkRequest }
  | { id: number; op: 'chunk-files'; request: FileBatchRequest };
/** The first message a segment worker gets. */
export type WorkerSetup = { op: 'setup'; spec: SegmentCodecSpec } | { op: 'chunking'; setup: ChunkingSetup } | { op: 'restoring'; setup: RestoreSetup };
export type WorkerReply =
  | { id: number; result: unknown }
  | { id: number; error: { message: string; code?: string } }
  /** One of several messages before a file job's result. */
  | { id: number; chunk: FileChunkMessage };

/** A view the receiving thread can own: shared memory travels as is, anything else is moved, never copied twice. */
function movable(data: Buffer): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  if (ownsWholeBuffer(data)) return { data, transfer: [data.buffer as ArrayBuffer] };
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return { data: copy, transfer: [copy.buffer] };
}

const port = parentPort!;
let chunking: ChunkingSetup | undefined;
let restoring: RestoreSetup | undefined;
let ready: Promise<SegmentTools> = Promise.reject(new Error('no codecs were given'));
ready.catch(() => undefined);
port.on('message', (message: WorkerRequest | WorkerSetup) => {
  if (message.op === 'chunking') {
    chunking = message.setup;
    startFileChunking();
    return;
  }
  if (message.op === 'restoring') {
    restoring = message.setup;
    return;
  }
  if (message.op === 'setup') {
    ready = buildSegmentTools(message.spec);
    // Building the codecs may fail before the first request arrives; each request then answers with the failure.
    ready.catch(() => undefined);
    return;
  }
  void ready.then(
    (t) => handle(t, message),
    (err: Error) => port.postMessage({ id: message.id, error: { message: `the segment worker could not start: ${err.message}`, ...codeOf(err) } }),
  );
});

/** A FailsafeError's code crosses to the main thread (an unknown codec is E_UNSUPPORTED_FORMAT there too). */
const codeOf = (err: Error): { code?: string } => (err instanceof FailsafeError ? { code: err.code } : {});

function handle(t: SegmentTools, message: WorkerRequest): void {
  try {
    if (message.op === 'chunk-file') {
      const result = chunkLocalFile(t, fileSetup(), message.request, (chunk, transfer) => {
        port.postMessage({ id: message.id, chunk }, transfer);
        if (chunk.sealed) collectAfterSealing(chunk.length);
      });
      port.postMessage({ id: message.id, result });
    } else if (message.op === 'chunk-files') {
      const { result, transfer } = chunkLocalFiles(t, fileSetup(), message.request);
      port.postMessage({ id: message.id, result }, transfer);
      collectAfterSealing(result.sealed.length);
    } else if (message.op === 'chunk') {
      const { id, sealed } = hashOrSealChunk(t, chunking, message.request);
      port.postMessage({ id: message.id, result: { id: new Uint8Array(id), ...(sealed ? { sealed } : {}) } }, sealed ? [sealed.buffer as ArrayBuffer] : []);
    } else if (message.op === 'open-chunk') {
      const { data, transfer } = movable(openChunk(t, message.request, (file, offset, length) => readStored(file, length, message.request.what, offset)));
      port.postMessage({ id: message.id, result: data }, transfer);
    } else if (message.op === 'open-run') {
      const lengths = openChunkRun(t, restoring, message.request);
      port.postMessage({ id: message.id, result: lengths }, [lengths.buffer as ArrayBuffer]);
    } else if (message.op === 'seal') {
      const { plain, out } = message.request;
      const result = sealSegment(t, { ...message.request, plain: asBuffer(plain), ...(out ? { out: asBuffer(out) } : {}) });
      if (!('data' in result)) return port.postMessage({ id: message.id, result });
      const { data, transfer } = movable(result.data);
      port.postMessage({ id: message.id, result: { ...result, data } }, transfer);
    } else {
      const { file, stored: sent, out, ...request } = message.request;
      // Read here, or moved or copied here unless it is shared memory: either way this thread's own to overwrite.
      const stored = file !== undefined ? readStored(file, request.storedSize, request.what) : asBuffer(sent!);
      const plain = openSegment(t, { ...request, stored, ...(out ? { out: asBuffer(out) } : {}) }, !(stored.buffer instanceof SharedArrayBuffer));
      // Without compression the plaintext may be the read buffer itself: it goes with the reply.
      if (plain.buffer === readBuffer?.buffer) readBuffer = undefined;
      const { data, transfer } = movable(plain);
      port.postMessage({ id: message.id, result: data }, transfer);
    }
  } catch (err) {
    const error = err as Error & { code?: string };
    port.postMessage({ id: message.id, error: { message: error.message, ...(err instanceof FailsafeError ? { code: error.code } : {}) } });
  } finally {
    // After the reply, so the main thread is not kept waiting: node:crypto's 64 KiB chunk buffers otherwise pile up.
    // A chunk's hash allocates nothing worth it, and a forced collection per chunk costs more than the work.
    // A file job (or batch) collects as it seals (collectAfterSealing).
    if (message.op !== 'chunk-file' && message.op !== 'chunk-files' && (message.op !== 'chunk' || message.request.sealAs)) collectYoungGarbage();
  }
}

/**
 * Sealing a file's chunks leaves node:crypto's 64 KiB output buffers behind, one per 64 KiB sealed, in wrappers
 * too small for V8 to collect them before tens of MB pile up: a young collection after every few MiB sealed
 * keeps that to a few MiB per thread (docs/performance.md, Memory).
 */
const SEALED_BETWEEN_COLLECTIONS = 4 << 20;
let sealedSinceCollection = 0;

function collectAfterSealing(plainLength: number): void {
  sealedSinceCollection += plainLength;
  if (sealedSinceCollection < SEALED_BETWEEN_COLLECTIONS) return;
  sealedSinceCollection = 0;
  collectYoungGarbage();
}

function fileSetup(): NonNullable<ChunkingSetup['files']> {
  if (!chunking?.files) throw new FailsafeError('E_INTERNAL', 'a file job came before the file chunking setup');
  return chunking.files;
}

let readBuffer: Buffer | undefined;

/**
 * A stored segment read whole into this thread's reused buffer (valid until
 * the next read): no allocation, and no round trip through the main thread.
 * A file of another size than recorded comes back whole up to `size + 1`
 * bytes, so openSegment refuses it as altered. From `offset`: the `size`
 * bytes of a chunk in a pack, fewer when the pack is shorter (its check
 * then fails).
 */
function readStored(file: string, size: number, what: string, offset?: number): Buffer {
  return withStoredFile(file, what, (fd) => {
    const actual = fstatSync(fd).size;
    const want = offset !== undefined ? size : actual === size ? size : Math.min(actual, size + 1);
    if (!readBuffer || readBuffer.length < want) readBuffer = Buffer.allocUnsafeSlow(Math.max(want, 4 << 20));
    let filled = 0;
    while (filled < want) {
      const n = readSync(fd, readBuffer, filled, want - filled, (offset ?? 0) + filled);
      if (n === 0) break;
      filled += n;
    }
    return readBuffer.subarray(0, filled);
  });
}
