/** A restore's chunks read ahead as runs of one pack into shared slots (format v2), against a real in-memory store and a local folder. */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import type { KeySlot } from '../../core/crypto/keys.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { ChunkRuns, RUN_SLOT_BYTES } from '../../core/dedup/chunk-runs.js';
import { ChunkReader } from '../../core/pack/chunk-reader.js';
import { ChunkWriter } from '../../core/pack/chunk-writer.js';
import { loadIndex } from '../../core/pack/load-index.js';
import { SegmentWorkers } from '../../core/pipeline/segment-workers.js';
import { Storage } from '../../core/repository/storage.js';

const codec = createSegmentCodec('zstd', 1);
const ID_KEY = randomBytes(32);
const INDEX = new SecretstreamCipher(randomBytes(32));
const RUN_KEY = randomBytes(32);
const SLOTS: KeySlot[] = [{ type: 'keyfile', keyId: 'run', nonce: '', wrapped: '' }];
const open = (): SecretstreamCipher => new SecretstreamCipher(RUN_KEY);

let workers: SegmentWorkers | undefined;
afterEach(async () => workers?.close());

/** `data` stored in packs of about `packSize` bytes; their ids in order. */
async function store(storage: Storage, data: Buffer[], packSize: number): Promise<Buffer[]> {
  const known = await loadIndex(storage, INDEX, { open });
  const writer = new ChunkWriter(storage, known, { idKey: ID_KEY, indexCipher: INDEX, cipher: open(), slots: SLOTS }, { codec, packSize });
  const ids = [];
  for (const chunk of data) ids.push(await writer.add(chunk));
  await writer.finish();
  return ids;
}

async function runs(storage: Storage, ids: Buffer[], options: { slots?: number; withKey?: boolean } = {}): Promise<ChunkRuns> {
  const known = await loadIndex(storage, INDEX, { open });
  await workers?.close();
  const reader = new ChunkReader(storage, known, { idKey: ID_KEY, open, ...(options.withKey === false ? {} : { openKey: () => RUN_KEY }) }, codec);
  workers = new SegmentWorkers({ compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'none' } }, 2);
  return new ChunkRuns(ids, reader, workers, options);
}

/** Every chunk at `positions`, copied out before the next is asked for (a view is valid only until then). */
async function take(chunkRuns: ChunkRuns, positions: number[]): Promise<Buffer[]> {
  const out = [];
  for (const position of positions) out.push(Buffer.from(await chunkRuns.get(position)));
  return out;
}

const small = (count: number): Buffer[] =>
  Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`${i}/`), randomBytes(2000 + ((i * 7919) % 30_000))]));

describe.each([
  ['memory', async () => new Storage(new MemoryAdapter(), 'memory')],
  ['local', async () => new Storage(new LocalAdapter({ path: await mkdtemp(join(tmpdir(), 'failsafe-runs-')) }), 'local')],
])('ChunkRuns (%s)', (_name, makeStorage) => {
  it('hands out every chunk whole, across packs, repeated and out of pack order, with two slots and with six', async () => {
    const storage = await makeStorage();
    const data = small(60);
    const ids = await store(storage, data, 256 * 1024);
    const order = [...data.keys(), 3, 0, 59, 17, ...[...data.keys()].reverse()];
    for (const slots of [2, 6]) {
      const back = await take(
        await runs(
          storage,
          order.map((i) => ids[i]!),
          { slots },
        ),
        [...order.keys()],
      );
      expect(back.map((b, i) => b.equals(data[order[i]!]!))).toEqual(order.map(() => true));
    }
  });

  it('a chunk larger than a slot is read on its own; skipped positions are dropped; without run keys the main thread opens the runs', async () => {
    const storage = await makeStorage();
    const data = [...small(10), randomBytes(RUN_SLOT_BYTES + 1000), ...small(10)];
    const ids = await store(storage, data, 1024 * 1024);
    const positions = [0, 1, 5, 10, 11, 19, 20];
    const back = await take(await runs(storage, ids, { slots: 2 }), positions);
    expect(back.map((b, i) => b.equals(data[positions[i]!]!))).toEqual(positions.map(() => true));
    const plain = await take(await runs(storage, ids, { withKey: false }), [...data.keys()]);
    expect(plain.map((b, i) => b.equals(data[i]!))).toEqual(data.map(() => true));
  });

  it('a flipped byte fails its run with E_CHECKSUM; chunks of other packs still come back', async () => {
    const storage = await makeStorage();
    const data = small(30);
    const ids = await store(storage, data, 64 * 1024);
    const known = await loadIndex(storage, INDEX, { open });
    const at = known.index.get(ids[12]!)!;
    const pack = known.packs[at.pack]!;
    const bytes = Buffer.from(await storage.getBuffer(pack));
    bytes[at.offset + (at.length >> 1)]! ^= 0x20;
    await storage.put(pack, bytes);
    await expect(take(await runs(storage, ids), [...ids.keys()])).rejects.toMatchObject({ code: 'E_CHECKSUM' });
    const others = [...ids.keys()].filter((i) => known.index.get(ids[i]!)!.pack !== at.pack);
    expect(others.length).toBeGreaterThan(10);
    const back = await take(
      await runs(
        storage,
        others.map((i) => ids[i]!),
      ),
      [...others.keys()],
    );
    expect(back.map((b, i) => b.equals(data[others[i]!]!))).toEqual(others.map(() => true));
  });
});
