/**
 * A worker thread of the segment pool (core/pipeline/segment-workers.ts):
 * rebuilds the snapshot's codecs from its workerData and answers seal and
 * open requests one at a time. Replies transfer their output buffers, so a
 * segment's bytes are never copied between threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSegmentCodec, type CompressionAlgorithm } from '../compression.js';
import { FailsafeError } from '../errors.js';
import { openSegment, sealSegment, type OpenRequest, type SealRequest, type SegmentCodecSpec, type SegmentTools } from './segment-work.js';
import { segmentCipher } from '../crypto/segment-cipher.js';

export type WorkerRequest = { id: number; op: 'seal'; request: SealRequest } | { id: number; op: 'open'; request: OpenRequest };
export type WorkerReply = { id: number; result: unknown } | { id: number; error: { message: string; code?: string } };

async function tools(spec: SegmentCodecSpec): Promise<SegmentTools> {
  const cipher = segmentCipher(spec.cipher.name, spec.cipher.key);
  // Throws for an algorithm this version does not know, rather than passing its bytes through as they are.
  const codec = createSegmentCodec(spec.compression.algorithm as CompressionAlgorithm, spec.compression.level);
  return { cipher, compress: (d) => codec.compress(d), decompress: (d, n) => codec.decompress(d, n) };
}

/** A view the receiving thread can own: shared memory travels as is, anything else is moved, never copied twice. */
function movable(data: Buffer): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  // Small buffers may be slices of Node's shared allocation pool, which must not be detached.
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.byteLength >= 4096) return { data, transfer: [data.buffer as ArrayBuffer] };
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return { data: copy, transfer: [copy.buffer] };
}

function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

const port = parentPort!;
const ready = tools(workerData as SegmentCodecSpec);
// Building the codecs may fail before the first request arrives; each request then answers with the failure.
ready.catch(() => undefined);
port.on('message', (message: WorkerRequest) => {
  void ready.then(
    (t) => handle(t, message),
    (err: Error) => port.postMessage({ id: message.id, error: { message: `the segment worker could not start: ${err.message}` } }),
  );
});

function handle(t: SegmentTools, message: WorkerRequest): void {
    try {
      if (message.op === 'seal') {
        const result = sealSegment(t, { ...message.request, plain: asBuffer(message.request.plain) });
        if (!('data' in result)) return port.postMessage({ id: message.id, result });
        const { data, transfer } = movable(result.data);
        port.postMessage({ id: message.id, result: { ...result, data } }, transfer);
      } else {
        const { data, transfer } = movable(openSegment(t, { ...message.request, stored: asBuffer(message.request.stored) }));
        port.postMessage({ id: message.id, result: data }, transfer);
      }
    } catch (err) {
      const error = err as Error & { code?: string };
      port.postMessage({ id: message.id, error: { message: error.message, ...(err instanceof FailsafeError ? { code: error.code } : {}) } });
    }
}
