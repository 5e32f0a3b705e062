/**
 * A local file cut whole in a segment worker (core/pipeline/file-chunk-work.ts),
 * run here on the test's own thread: the same cut points as the streaming
 * chunker whatever the file's size against the read buffer; a chunk the
 * index has comes back unsealed; a sealed chunk opens to its bytes; a file
 * that shrank is padded to its announced size, one that grew is cut there;
 * no credit, no sealing; a stop ends the wait; an unreadable file names itself.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { chunkId } from '../../core/chunking/chunk-id.js';
import { FastCdc } from '../../core/chunking/fastcdc.js';
import { gearTable } from '../../core/chunking/gear.js';
import { chunkStream } from '../../core/dedup/chunk-files.js';
import { chunkContext } from '../../core/pack/format.js';
import type { FileChunkingSetup } from '../../core/pipeline/chunk-work.js';
import { chunkLocalFile, startFileChunking, type FileChunkMessage } from '../../core/pipeline/file-chunk-work.js';
import { buildSegmentTools } from '../../core/pipeline/stage-tools.js';
import { ChunkIndex } from '../../core/repository/chunk-index.js';

const SIZES = { min: 2048, avg: 8192, max: 32768 };
const gear = gearTable(Buffer.alloc(32, 3));
const idKey = Buffer.alloc(32, 9);
const runKey = Buffer.alloc(32, 5);

function data(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

async function setupFor(known: Buffer[] = [], credits = 2 ** 30): Promise<{ setup: FileChunkingSetup; tools: Awaited<ReturnType<typeof buildSegmentTools>> }> {
  const index = new ChunkIndex();
  known.forEach((id, i) => index.add(id, { pack: 0, offset: i, length: 1 }));
  const cells = new Int32Array(new SharedArrayBuffer(8));
  cells[1] = credits;
  const tools = await buildSegmentTools({ compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'xchacha20poly1305-secretstream', key: runKey } });
  startFileChunking();
  return { setup: { idKey, gear, sizes: SIZES, known: index.shareIds(), credits: cells }, tools };
}

async function fileOf(bytes: Buffer): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'failsafe-file-chunk-')), 'file.bin');
  await writeFile(path, bytes);
  return path;
}

const hex = (ids: Uint8Array[]): string[] => ids.map((id) => Buffer.from(id).toString('hex'));

describe('chunkLocalFile', () => {
  it('cuts the streaming chunker`s chunks, seals the new ones and names the known ones only', async () => {
    // Larger than the worker's 8 MiB read buffer, so the buffer is compacted as it goes.
    const bytes = data(9 * 1024 * 1024 + 12345, 1);
    const expected = (await chunkStream(Readable.from([bytes]), new FastCdc(gear, SIZES), async (c) => chunkId(idKey, c))).ids;
    const { setup, tools } = await setupFor([expected[3]!]);
    const messages: FileChunkMessage[] = [];
    const result = chunkLocalFile(tools, setup, { path: await fileOf(bytes), size: bytes.length, source: 'source "s"', lane: 0 }, (m) => messages.push(m));
    expect(result.read).toBe(bytes.length);
    expect(hex(messages.map((m) => m.id))).toEqual(hex(expected));
    expect(messages.map((m) => m.sealed !== undefined)).toEqual(expected.map((_, i) => i !== 3));
    const opened = tools.decompress(tools.cipher.decrypt(Buffer.from(messages[5]!.sealed!), chunkContext(expected[5]!)), messages[5]!.length);
    let offset = 0;
    for (const m of messages.slice(0, 5)) offset += m.length;
    expect(opened.equals(bytes.subarray(offset, offset + messages[5]!.length))).toBe(true);
  });

  it('holds a file to its announced size: padded with zeros when it shrank, cut when it grew', async () => {
    const bytes = data(200_000, 2);
    const path = await fileOf(bytes);
    const { setup, tools } = await setupFor();
    const grown: FileChunkMessage[] = [];
    const cut = chunkLocalFile(tools, setup, { path, size: 150_000, source: 'source "s"', lane: 0 }, (m) => grown.push(m));
    expect(cut.after.size).toBe(200_000);
    expect(grown.reduce((sum, m) => sum + m.length, 0)).toBe(150_000);
    await truncate(path, 100_000);
    const shrunk: FileChunkMessage[] = [];
    const padded = chunkLocalFile(tools, setup, { path, size: 150_000, source: 'source "s"', lane: 0 }, (m) => shrunk.push(m));
    expect(padded.read).toBe(100_000);
    const whole = Buffer.concat([bytes.subarray(0, 100_000), Buffer.alloc(50_000)]);
    const expected = (await chunkStream(Readable.from([whole]), new FastCdc(gear, SIZES), async (c) => chunkId(idKey, c))).ids;
    expect(hex(shrunk.map((m) => m.id))).toEqual(hex(expected));
  });

  it('seals nothing without a credit, and a stop ends the wait', async () => {
    const { setup, tools } = await setupFor([], 0);
    const path = await fileOf(data(100_000, 3));
    const messages: FileChunkMessage[] = [];
    // This thread blocks in the wait: another one stops the run, as the main thread does for a worker.
    const stopper = new Worker(
      `const { workerData } = require('node:worker_threads');
       setTimeout(() => { Atomics.store(workerData, 0, 1); Atomics.notify(workerData, 1); }, 200);`,
      { eval: true, workerData: setup.credits },
    );
    expect(() => chunkLocalFile(tools, setup, { path, size: 100_000, source: 'source "s"', lane: 0 }, (m) => messages.push(m))).toThrow(
      expect.objectContaining({ code: 'E_ABORTED' }),
    );
    expect(messages).toEqual([]);
    await stopper.terminate();
  });

  it('names the source and the path of a file it cannot read', async () => {
    const { setup, tools } = await setupFor();
    const path = join(tmpdir(), 'failsafe-no-such-file.bin');
    expect(() => chunkLocalFile(tools, setup, { path, size: 10, source: 'source "photos"', lane: 0 }, () => undefined)).toThrow(
      expect.objectContaining({ code: 'E_SOURCE_READ', message: expect.stringContaining(`source "photos": cannot read ${path}`) }),
    );
  });
});
