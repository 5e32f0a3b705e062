/**
 * A whole local file cut into chunks inside a segment worker (format v2):
 * read with positional reads into the thread's own buffer, cut with FastCDC
 * where it lies, each chunk's keyed id taken, and — when neither the
 * repository's index (shared at the start of the run) nor this thread has
 * it — compressed and sealed into one of the worker's shared slots. The
 * main thread gets one small message per chunk, naming the slot only for a
 * new chunk, and copies the sealed bytes from there into its pack.
 *
 * Before this the main thread read and cut every file and copied each chunk
 * into shared memory: it was the bottleneck, with the workers idle 70% of
 * the time (docs/performance.md). A worker now does the whole of a file, so
 * two files are read and cut at once on two cores.
 *
 * Backpressure: a worker holds a few credits (one per slot); each sealed
 * chunk takes one, and the main thread gives it back once the chunk is in a
 * pack. Sealing into a fresh buffer moved to the main thread instead (1 GiB
 * backup: 618 MB of buffers the main thread's V8 counted as external memory,
 * a full collection every 30 MB) cost 10% more CPU in all.
 * Out of credits, the worker waits (Atomics.wait): memory stays bounded
 * whatever the file's size, and a stopped run (cell 0) ends the wait.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { chunkId } from '../chunking/chunk-id.js';
import { FastCdc } from '../chunking/fastcdc.js';
import { errnoOf, FailsafeError } from '../errors.js';
import { fsPath } from '../fs/name-bytes.js';
import { findEntry } from '../repository/id-table.js';
import { sealChunk, sealedSlotBytes, type FileChunkingSetup } from './chunk-work.js';
import type { SegmentTools } from './segment-work.js';

export interface FileChunkRequest {
  path: string;
  /** Bytes to read, as the source announced: a file that grew is cut here, one that shrank is padded with zeros. */
  size: number;
  /** `source "<name>"`, for messages. */
  source: string;
  /** The worker's lane in `credits` (set by the pool when it hands the job out). */
  lane: number;
}

export interface FileChunkMessage {
  id: Uint8Array;
  length: number;
  /** Only for a chunk this worker found new: its sealed bytes, or where they lie in the worker's slots (`setup.sealed`). */
  sealed?: Uint8Array | { slot: number; length: number };
}

export interface FileChunkResult {
  /** Bytes the file gave (less than `size` when it shrank). */
  read: number;
  /** The file as it was once read. */
  after: { size: number; mtimeMs: number };
}

export type ChunkEmitter = (message: FileChunkMessage, transfer: ArrayBuffer[]) => void;

const READ = 1 << 20;
let buffer: Buffer | undefined;
/** Chunks this thread sealed in this run (hex): sealed once even when the main thread has not yet answered for them. */
let sealedHere = new Set<string>();
/** The sealed slot the next new chunk goes to (in turn, one per credit). */
let nextSlot = 0;

export function startFileChunking(): void {
  sealedHere = new Set();
  nextSlot = 0;
}

export function chunkLocalFile(t: SegmentTools, setup: FileChunkingSetup, request: FileChunkRequest, emit: ChunkEmitter): FileChunkResult {
  return cutLocalFile(setup, request, (plain) => emitChunk(t, setup, request.lane, plain, emit));
}

/**
 * Reads the file at `request.path` up to its announced size and hands each chunk FastCDC cuts to `take`, in order
 * (a view of this thread's read buffer, valid until `take` returns).
 */
export function cutLocalFile(setup: FileChunkingSetup, request: Omit<FileChunkRequest, 'lane'>, take: (plain: Buffer) => void): FileChunkResult {
  const cdc = new FastCdc(setup.gear, setup.sizes);
  const capacity = Math.max(8 << 20, setup.sizes.max + 2 * READ);
  if (!buffer || buffer.length < capacity) buffer = Buffer.allocUnsafeSlow(capacity);
  const buf = buffer;
  const fd = callOrFail(request, () => openSync(fsPath(request.path), 'r'));
  try {
    // The current chunk starts at `start`; bytes up to `end` are read and shown to the chunker.
    let start = 0;
    let end = 0;
    let position = 0;
    let read = 0;
    const cut = (length: number): void => {
      take(buf.subarray(start, start + length));
      start += length;
    };
    while (position < request.size) {
      if (Atomics.load(setup.credits, 0) !== 0) throw stopped();
      if (end + READ > buf.length) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      const want = Math.min(READ, request.size - position);
      let n = callOrFail(request, () => readSync(fd, buf, end, want, position));
      read += n;
      if (n === 0) {
        n = want;
        buf.fill(0, end, end + n);
      }
      const piece = buf.subarray(end, end + n);
      end += n;
      position += n;
      for (const length of cdc.push(piece)) cut(length);
    }
    const last = cdc.finish();
    if (last > 0) cut(last);
    const { size, mtimeMs } = callOrFail(request, () => fstatSync(fd));
    return { read, after: { size, mtimeMs } };
  } finally {
    closeSync(fd);
  }
}

/**
 * A chunk's keyed id, and whether this thread is the first to find it new (neither in the repository's index nor
 * sealed here before): then it must be sealed, and from now on it counts as sealed here.
 */
export function claimChunk(setup: FileChunkingSetup, plain: Buffer): { digest: Buffer; id: Uint8Array; fresh: boolean } {
  const digest = chunkId(setup.idKey, plain);
  // Its own memory, not a view of a pool: a view would post the whole pool.
  const id = new Uint8Array(digest);
  if (findEntry(setup.known.ids, setup.known.slots, id) >= 0) return { digest, id, fresh: false };
  const hex = digest.toString('hex');
  if (sealedHere.has(hex)) return { digest, id, fresh: false };
  sealedHere.add(hex);
  return { digest, id, fresh: true };
}

function emitChunk(t: SegmentTools, setup: FileChunkingSetup, lane: number, plain: Buffer, emit: ChunkEmitter): void {
  const { digest, id, fresh } = claimChunk(setup, plain);
  if (!fresh) return emit({ id, length: plain.length }, []);
  takeCredit(setup.credits, lane);
  const slots = setup.sealed;
  const slot = slots ? nextSlot++ % slots.slots : 0;
  const room = slots ? sealedSlotBytes(slots, lane, slot, slots.slotBytes) : undefined;
  const sealed = sealChunk(t, digest, plain, room);
  if (sealed.buffer === room?.buffer) return emit({ id, length: plain.length, sealed: { slot, length: sealed.length } }, []);
  emit({ id, length: plain.length, sealed }, [sealed.buffer as ArrayBuffer]);
}

function takeCredit(credits: Int32Array, lane: number): void {
  const cell = lane + 1;
  for (;;) {
    if (Atomics.load(credits, 0) !== 0) throw stopped();
    const have = Atomics.load(credits, cell);
    // Only this thread takes from its cell; the main thread only adds, so the check and the take cannot race.
    if (have > 0) {
      Atomics.sub(credits, cell, 1);
      return;
    }
    Atomics.wait(credits, cell, have, 1000);
  }
}

export const stopped = (): FailsafeError => new FailsafeError('E_ABORTED', 'the backup stopped');

function callOrFail<T>(request: Omit<FileChunkRequest, 'lane'>, call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw new FailsafeError('E_SOURCE_READ', `${request.source}: cannot read ${request.path}: ${errnoOf(err) ?? err}`, { cause: err });
  }
}
