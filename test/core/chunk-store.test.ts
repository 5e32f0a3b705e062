/** Storing chunks once in packs and reading them back (format v2), against a real in-memory store and a local folder. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import type { KeySlot } from '../../core/crypto/keys.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { FailsafeError, isFailsafeError } from '../../core/errors.js';
import { ChunkReader } from '../../core/pack/chunk-reader.js';
import { ChunkWriter } from '../../core/pack/chunk-writer.js';
import { loadIndex } from '../../core/pack/load-index.js';
import { SegmentWorkers } from '../../core/pipeline/segment-workers.js';
import { Storage } from '../../core/repository/storage.js';

const codec = createSegmentCodec('zstd', 1);
const ID_KEY = randomBytes(32);
const INDEX = new SecretstreamCipher(randomBytes(32));

/** A run's key, wrapped in a slot only the test's "key ring" opens: each run gets its own, as backups do. */
class Keys {
  readonly #keys = new Map<string, Buffer>();
  run(): { cipher: SecretstreamCipher; slots: KeySlot[] } {
    const keyId = randomBytes(8).toString('hex');
    const key = randomBytes(32);
    this.#keys.set(keyId, key);
    return { cipher: new SecretstreamCipher(key), slots: [{ type: 'keyfile', keyId, nonce: '', wrapped: '' }] };
  }
  openKey = (slots: KeySlot[]): Buffer => {
    const slot = slots[0];
    const key = slot?.type === 'keyfile' ? this.#keys.get(slot.keyId) : undefined;
    if (!key) throw new Error('no key for this pack');
    return key;
  };
  open = (slots: KeySlot[]): SecretstreamCipher => new SecretstreamCipher(this.openKey(slots));
}

/** Where the open packs fill (core/pack/spilled-pack.ts) in the suite's third run; in memory in the others. */
let spillDir: string | undefined;

async function writer(storage: Storage, keys: Keys, packSize = 64 * 1024): Promise<ChunkWriter> {
  const known = await loadIndex(storage, INDEX, { open: keys.open });
  return new ChunkWriter(storage, known, { idKey: ID_KEY, indexCipher: INDEX, ...keys.run() }, { codec, packSize, ...(spillDir ? { spillDir } : {}) });
}

async function readAll(storage: Storage, keys: Keys, ids: Buffer[]): Promise<Buffer[]> {
  const reader = new ChunkReader(storage, await loadIndex(storage, INDEX, { open: keys.open }), { idKey: ID_KEY, open: keys.open }, codec);
  return Promise.all(ids.map((id) => reader.read(id)));
}

const chunks = (count: number, seed = randomBytes(4).toString('hex')): Buffer[] =>
  Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`${seed}/${i}/`), randomBytes(3000 + ((i * 7919) % 20_000))]));

const local = async (): Promise<Storage> => new Storage(new LocalAdapter({ path: await mkdtemp(join(tmpdir(), 'failsafe-packs-')) }), 'local');

describe.each([
  ['memory', async () => new Storage(new MemoryAdapter(), 'memory'), false],
  ['local', local, false],
  ['local, open packs spilled to disk', local, true],
])('chunks in packs (%s)', (_name, makeStorage, spill) => {
  beforeEach(async () => {
    spillDir = spill ? await mkdtemp(join(tmpdir(), 'failsafe-spill-')) : undefined;
  });

  it('chunks opened in worker threads (a local pack read there) come back whole; a flipped byte is E_CHECKSUM', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const data = chunks(12);
    const w = await writer(storage, keys);
    const ids = [];
    for (const chunk of data) ids.push(await w.add(chunk));
    await w.finish();
    const known = await loadIndex(storage, INDEX, { open: keys.open });
    const workers = new SegmentWorkers({ compression: { algorithm: 'zstd', level: 1 }, cipher: { name: 'none' } }, 2);
    try {
      const reader = new ChunkReader(storage, known, { idKey: ID_KEY, open: keys.open, openKey: keys.openKey }, codec);
      const back = await Promise.all(ids.map((id) => reader.read(id, { workers })));
      expect(back.map((b, i) => b.equals(data[i]!))).toEqual(data.map(() => true));
      const at = known.index.get(ids[4]!)!;
      const pack = known.packs[at.pack]!;
      const bytes = Buffer.from(await storage.getBuffer(pack));
      bytes[at.offset + (at.length >> 1)]! ^= 0x20;
      await storage.put(pack, bytes);
      const fresh = new ChunkReader(storage, known, { idKey: ID_KEY, open: keys.open, openKey: keys.openKey }, codec);
      const error = await fresh.read(ids[4]!, { workers }).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'E_CHECKSUM' });
      expect((await fresh.read(ids[5]!, { workers })).equals(data[5]!)).toBe(true);
    } finally {
      await workers.close();
    }
  });

  it('a second run of the same data stores only what changed, and everything reads back', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const first = chunks(30);
    const run1 = await writer(storage, keys);
    const ids1 = [];
    for (const chunk of [...first, first[2]!, first[9]!]) ids1.push(await run1.add(chunk));
    await run1.finish();
    expect(run1.stats).toMatchObject({ chunks: 32, newChunks: 30 });
    expect(run1.stats.packs).toBeGreaterThan(2);

    const added = chunks(5);
    const run2 = await writer(storage, keys);
    const ids2 = [];
    for (const chunk of [...first, ...added]) ids2.push(await run2.add(chunk));
    await run2.finish();
    expect(run2.stats.newChunks).toBe(5);
    expect(run2.stats.storedBytes).toBeLessThan(run1.stats.storedBytes / 3);
    expect(ids2.slice(0, 30).map(String)).toEqual(ids1.slice(0, 30).map(String));

    const back = await readAll(storage, keys, ids2);
    back.forEach((plain, i) => expect(plain.equals([...first, ...added][i]!)).toBe(true));
  });

  it('chunks added concurrently (as the worker threads deliver them) land once each, in no empty or tiny pack', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const data = chunks(60);
    const run = await writer(storage, keys);
    // Every chunk twice and all at once: full packs are reached by several callers while uploads are busy.
    const ids = await Promise.all([...data, ...data].map((chunk) => run.add(chunk)));
    const packs = await run.finish();
    expect(run.stats).toMatchObject({ chunks: 120, newChunks: 60 });
    expect(packs.flatMap((p) => p.entries).length).toBe(60);
    expect(packs.every((p) => p.entries.length > 0)).toBe(true);
    // Only the two packs open at the end may fall short of the target size.
    const small = packs.filter((p) => p.entries.reduce((n, e) => n + e.length, 0) < 64 * 1024);
    expect(small.length).toBeLessThanOrEqual(2);
    const back = await readAll(storage, keys, ids.slice(0, 60));
    back.forEach((plain, i) => expect(plain.equals(data[i]!)).toBe(true));
    // Every spilled pack's file is gone once it is stored.
    if (spillDir) expect(await readdir(spillDir)).toEqual([]);
  });

  it.runIf(spill)('a run abandoned with packs open leaves no spill file and stores none of them', async () => {
    const storage = await makeStorage();
    const run = await writer(storage, new Keys(), 1 << 20);
    for (const chunk of chunks(10)) await run.add(chunk);
    expect((await readdir(spillDir!)).length).toBeGreaterThan(0);
    await run.abandon();
    expect(await readdir(spillDir!)).toEqual([]);
    expect(run.stats.packs).toBe(0);
  });

  it.runIf(spill)("a spill file that cannot be made is named, as the cache folder's, not the target's", async () => {
    const storage = await makeStorage();
    const run = await writer(storage, new Keys());
    await rm(spillDir!, { recursive: true });
    const err = await run.add(chunks(1)[0]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).code).toBe('E_NOT_FOUND');
    expect((err as FailsafeError).message).toContain(`the pack being filled in the cache folder (${spillDir}/`);
  });

  it('chunks of a run stopped before its index are found in its packs and not stored again', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const data = chunks(40);
    const crashed = await writer(storage, keys, 32 * 1024);
    for (const chunk of data) await crashed.add(chunk);
    await crashed.uploaded();
    // No finish(): the packs it filled are stored, the two open ones and the index object are lost.
    const stored = crashed.stats.packs;
    expect(stored).toBeGreaterThan(2);

    const loaded = await loadIndex(storage, INDEX, { open: keys.open });
    expect(loaded.recovered).toHaveLength(stored);
    expect(loaded.unindexed).toEqual([]);
    const next = await writer(storage, keys, 32 * 1024);
    for (const chunk of data) await next.add(chunk);
    await next.finish();
    expect(next.stats.newChunks).toBe(40 - loaded.index.size);
    expect(loaded.index.size).toBeGreaterThan(20);
    const ids = [];
    for (const chunk of data) ids.push(await next.add(chunk));
    (await readAll(storage, keys, ids)).forEach((plain, i) => expect(plain.equals(data[i]!)).toBe(true));
  });

  it('a pack upload that fails while chunking goes on fails the run, and no index object names its chunks', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const w = await writer(storage, keys, 16 * 1024);
    const put = storage.put.bind(storage);
    let puts = 0;
    storage.put = async (key, body, options) => {
      if (key.startsWith('packs/') && ++puts === 2) throw new FailsafeError('E_STORAGE', 'the disk went away');
      return put(key, body, options);
    };
    const run = async (): Promise<void> => {
      for (const chunk of chunks(30)) await w.add(chunk);
      await w.finish();
    };
    await expect(run()).rejects.toThrow('the disk went away');
    const listed: string[] = [];
    for await (const object of storage.list('index/')) listed.push(object.key);
    expect(listed).toEqual([]);
  });

  it('the index rebuilt from the packs alone equals the index objects', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    for (let run = 0; run < 3; run++) {
      const w = await writer(storage, keys);
      for (const chunk of chunks(15)) await w.add(chunk);
      await w.finish();
    }
    const fromObjects = await loadIndex(storage, INDEX, { open: keys.open });
    for await (const object of storage.list('index/')) await storage.delete(object.key);
    const fromPacks = await loadIndex(storage, INDEX, { open: keys.open });
    const flatten = (l: typeof fromObjects): string[] =>
      [...l.index.entries()].map(([id, at]) => `${Buffer.from(id).toString('hex')} ${l.packs[at.pack]} ${at.offset} ${at.length}`).sort();
    expect(fromPacks.recovered.length).toBe(fromObjects.packs.length);
    expect(flatten(fromPacks)).toEqual(flatten(fromObjects));
  });

  it('a host without the run keys cannot open another run’s unindexed packs, and a wrong id key is caught on read', async () => {
    const storage = await makeStorage();
    const keys = new Keys();
    const w = await writer(storage, keys, 16 * 1024);
    const ids = [];
    for (const chunk of chunks(10)) ids.push(await w.add(chunk));
    await w.uploaded();
    // Stopped before finish: only its packs' own headers tell what they hold, and only to a holder of the key.
    const blind = await loadIndex(storage, INDEX, { open: new Keys().open });
    expect(blind.unindexed.length).toBe(w.stats.packs);
    expect(blind.index.size).toBe(0);
    await w.finish();
    const wrong = new ChunkReader(storage, await loadIndex(storage, INDEX, { open: keys.open }), { idKey: randomBytes(32), open: keys.open }, codec);
    const error = await wrong.read(ids[0]!).catch((err: unknown) => err);
    expect(isFailsafeError(error, 'E_CHECKSUM')).toBe(true);
  });
});
