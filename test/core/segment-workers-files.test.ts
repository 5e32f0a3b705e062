/**
 * Whole local files cut in the segment pool (SegmentWorkers.chunkFile): a
 * worker holds the file it cuts and the next one, so several file jobs wait
 * in one thread's queue at once; each job still hears of its own chunks only,
 * in order, and credits carry over from one job to the next. A new chunk is
 * sealed into its worker's shared slot, valid until its credit comes back.
 * Several small files go as one batch (chunkFiles), answered file by file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { chunkId } from '../../core/chunking/chunk-id.js';
import { FastCdc } from '../../core/chunking/fastcdc.js';
import { gearTable } from '../../core/chunking/gear.js';
import { chunkStream } from '../../core/dedup/chunk-files.js';
import { chunkContext } from '../../core/pack/format.js';
import type { FileChunkMessage } from '../../core/pipeline/file-chunk-work.js';
import { SegmentWorkers } from '../../core/pipeline/segment-workers.js';
import { buildSegmentTools } from '../../core/pipeline/stage-tools.js';
import { ChunkIndex } from '../../core/repository/chunk-index.js';

const SIZES = { min: 2048, avg: 8192, max: 32768 };
const gear = gearTable(Buffer.alloc(32, 3));
const idKey = Buffer.alloc(32, 9);

let pools: SegmentWorkers[] = [];
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

function data(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

const hex = (ids: Uint8Array[]): string[] => ids.map((id) => Buffer.from(id).toString('hex'));

describe('SegmentWorkers.chunkFile', () => {
  it('gives each of several file jobs queued in one thread its own chunks, in order, with one credit carried across jobs', async () => {
    const spec = { compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'xchacha20poly1305-secretstream', key: randomBytes(32) } } as const;
    const workers = new SegmentWorkers(spec, 1);
    pools.push(workers);
    workers.shareChunking({ slots: [], idKey }, { idKey, gear, sizes: SIZES, known: new ChunkIndex().shareIds() }, 1);
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-file-jobs-'));
    const files = [data(100_000, 1), data(3000, 2), data(70_000, 3), data(10, 4)];
    const paths = await Promise.all(files.map(async (bytes, i) => (await writeFile(join(dir, `f${i}`), bytes), join(dir, `f${i}`))));
    const heard = files.map((): FileChunkMessage[] => []);
    const sealed = files.map((): Buffer[] => []);
    const jobs = paths.map((path, i) =>
      workers.chunkFile({ path, size: files[i]!.length, source: 'source "s"' }, (chunk, lane) => {
        heard[i]!.push(chunk);
        const slot = chunk.sealed instanceof Uint8Array ? undefined : chunk.sealed;
        expect(slot).toBeDefined();
        sealed[i]!.push(Buffer.from(workers.sealedBytes(lane, slot!.slot, slot!.length)));
        // The one credit (and so the one slot) comes back only later, as once a pack has taken the chunk.
        setImmediate(() => workers.credit(lane));
      }),
    );
    const results = await Promise.all(jobs);
    const tools = await buildSegmentTools(spec);
    for (const [i, bytes] of files.entries()) {
      const expected = (await chunkStream(Readable.from([bytes]), new FastCdc(gear, SIZES), async (c) => chunkId(idKey, c))).ids;
      expect(results[i]!.read).toBe(bytes.length);
      expect(hex(heard[i]!.map((m) => m.id))).toEqual(hex(expected));
      const opened = heard[i]!.map((m, n) => tools.decompress(tools.cipher.decrypt(sealed[i]![n]!, chunkContext(Buffer.from(m.id))), m.length));
      expect(Buffer.concat(opened).equals(bytes)).toBe(true);
    }
  });
});

describe('SegmentWorkers.chunkFiles', () => {
  it('answers a batch file by file: chunks in order, sealed once, and an unreadable file fails alone', async () => {
    const spec = { compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'xchacha20poly1305-secretstream', key: randomBytes(32) } } as const;
    const workers = new SegmentWorkers(spec, 1);
    pools.push(workers);
    workers.shareChunking({ slots: [], idKey }, { idKey, gear, sizes: SIZES, known: new ChunkIndex().shareIds() }, 1);
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-batch-'));
    const contents = [data(20_000, 1), data(300, 2), data(20_000, 1), data(0, 3)];
    const paths = await Promise.all(contents.map(async (bytes, i) => (await writeFile(join(dir, `f${i}`), bytes), join(dir, `f${i}`))));
    const files = paths.map((path, i) => ({ path, size: contents[i]!.length }));
    files.splice(2, 0, { path: join(dir, 'gone'), size: 10 });
    const reply = await workers.chunkFiles({ files, source: 'source "s"' });
    expect(reply.files).toHaveLength(5);
    const gone = reply.files[2]!;
    expect('error' in gone && gone.error).toMatchObject({
      code: 'E_SOURCE_READ',
      message: expect.stringContaining(`source "s": cannot read ${join(dir, 'gone')}`),
    });
    const tools = await buildSegmentTools(spec);
    const answered = [0, 1, 3, 4].map((i) => reply.files[i]!);
    for (const [n, file] of answered.entries()) {
      const bytes = contents[n]!;
      expect('result' in file && file.result.read).toBe(bytes.length);
      const expected = (await chunkStream(Readable.from([bytes]), new FastCdc(gear, SIZES), async (c) => chunkId(idKey, c))).ids;
      expect(hex(file.chunks.map((c) => c.id))).toEqual(hex(expected));
      // The second copy of the first file's bytes is sealed once, by the first.
      if (n === 2) expect(file.chunks.every((c) => c.sealed === undefined)).toBe(true);
      else {
        const opened = file.chunks.map((c) => {
          const sealed = Buffer.from(reply.sealed.buffer, reply.sealed.byteOffset + c.sealed!.at, c.sealed!.length);
          return tools.decompress(tools.cipher.decrypt(sealed, chunkContext(Buffer.from(c.id))), c.length);
        });
        expect(Buffer.concat(opened).equals(bytes)).toBe(true);
      }
    }
  });
});
