/** Packs (format v2): chunks and their header, read back from the bytes alone; damaged packs refused. */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkContext, decodePackTrailer, TAIL_PROBE } from '../../core/pack/format.js';
import { PackBuffers, PackBuilder, packEntries, type ClosedPack } from '../../core/pack/builder.js';
import { ChunkIndex } from '../../core/repository/chunk-index.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import type { KeySlot } from '../../core/crypto/keys.js';
import { asFailsafeError, exitCodeOf, isFailsafeError } from '../../core/errors.js';
import { LocalAdapter } from '../../adapters/local/local.js';
import { readPackHeader } from '../../core/pack/read-header.js';
import { Storage } from '../../core/repository/storage.js';

const ID_KEY = randomBytes(32);
const idOf = (data: Buffer): Buffer => createHmac('sha256', ID_KEY).update(data).digest();
const SLOTS: KeySlot[] = [{ type: 'keyfile', keyId: 'k1', nonce: 'bm9uY2U=', wrapped: 'd3JhcHBlZA==' }];

/** Writes `chunks` into packs of `target` bytes, as a backup would; returns the packs and the index it kept meanwhile. */
function writePacks(chunks: Buffer[], cipher: SecretstreamCipher, target: number): { packs: ClosedPack[]; index: ChunkIndex } {
  const index = new ChunkIndex();
  const packs: ClosedPack[] = [];
  let builder = new PackBuilder(target);
  const pending: { id: Buffer; plainLength: number; offset: number; length: number }[] = [];
  const flush = (): void => {
    const pack = builder.close(cipher, SLOTS);
    for (const p of pending.splice(0)) index.add(p.id, { pack: packs.length, offset: p.offset, length: p.length });
    packs.push(pack);
    builder = new PackBuilder(target);
  };
  for (const chunk of chunks) {
    const id = idOf(chunk);
    if (index.has(id) || pending.some((p) => p.id.equals(id))) continue;
    const entry = builder.add(id, 'data', cipher.encrypt(chunk, chunkContext(id)), chunk.length);
    pending.push({ id, plainLength: chunk.length, offset: entry.offset, length: entry.length });
    if (builder.full) flush();
  }
  if (builder.count > 0) flush();
  return { packs, index };
}

describe('packs', () => {
  const cipher = new SecretstreamCipher(randomBytes(32));
  const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
  chunks.push(chunks[3]!, chunks[17]!); // stored once each

  it('the index rebuilt from the packs alone equals the one written', () => {
    const { packs, index } = writePacks(chunks, cipher, 64 * 1024);
    expect(packs.length).toBeGreaterThan(3);
    const rebuilt = new ChunkIndex();
    packs.forEach((pack, n) => {
      for (const entry of packEntries(pack.bytes, () => cipher, pack.key)) rebuilt.add(entry.id, { pack: n, offset: entry.offset, length: entry.length });
    });
    const written = [...index.entries()].map(([id, at]) => [Buffer.from(id).toString('hex'), at]);
    const read = [...rebuilt.entries()].map(([id, at]) => [Buffer.from(id).toString('hex'), at]);
    expect(read.sort()).toEqual(written.sort());
    expect(rebuilt.size).toBe(40);
  });

  it('opens each chunk from its offset and length alone, under its own id', () => {
    const { packs, index } = writePacks(chunks, cipher, 64 * 1024);
    for (const chunk of chunks) {
      const id = idOf(chunk);
      const at = index.get(id)!;
      const sealed = packs[at.pack]!.bytes.subarray(at.offset, at.offset + at.length);
      expect(cipher.decrypt(Buffer.from(sealed), chunkContext(id)).equals(chunk)).toBe(true);
      // Under another chunk's id it does not open: a pack header cannot swap two chunks.
      expect(() => cipher.decrypt(Buffer.from(sealed), chunkContext(idOf(Buffer.from('other'))))).toThrow();
    }
  });

  it('names packs at random, and keeps the trailer slots readable without the key', () => {
    const { packs } = writePacks(chunks.slice(0, 2), cipher, 1 << 20);
    const again = writePacks(chunks.slice(0, 2), cipher, 1 << 20);
    expect(packs[0]!.key).toMatch(/^packs\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect(packs[0]!.key).not.toBe(again.packs[0]!.key);
    const bytes = packs[0]!.bytes;
    expect(decodePackTrailer(bytes.subarray(bytes.length - TAIL_PROBE), bytes.length, 'p').slots).toEqual(SLOTS);
  });

  it('refuses a damaged pack with E_CORRUPT, or a wrong key as such, without trusting its sizes', () => {
    const { packs } = writePacks(chunks.slice(0, 5), cipher, 1 << 20);
    const good = packs[0]!.bytes;
    const open = (bytes: Buffer, key = cipher): unknown => {
      try {
        packEntries(bytes, () => key, 'pack');
      } catch (err) {
        return isFailsafeError(err) ? err.code : err;
      }
      return 'opened';
    };
    expect(open(good)).toBe('opened');
    expect(open(good.subarray(0, good.length - 3))).toBe('E_CORRUPT');
    const hugeTrailer = Buffer.from(good);
    hugeTrailer.writeUInt32LE(0xfffffff0, good.length - 12);
    expect(open(hugeTrailer)).toBe('E_CORRUPT');
    const flipped = Buffer.from(good);
    const headerStart = good.length - 12 - 300;
    flipped[headerStart] = flipped[headerStart]! ^ 1;
    expect(['E_CORRUPT', 'E_WRONG_KEY', 'E_CHECKSUM']).toContain(open(flipped));
    expect(open(good, new SecretstreamCipher(randomBytes(32)))).toBe('E_WRONG_KEY');
    expect(open(Buffer.from('FSPACK02'))).toBe('E_CORRUPT');
  });

  it('a stored pack cut to nothing or to a few bytes is E_CORRUPT (exit 3), read from a local target', async () => {
    const good = writePacks(chunks.slice(0, 2), cipher, 1 << 20).packs[0]!;
    const storage = new Storage(new LocalAdapter({ path: await mkdtemp(join(tmpdir(), 'failsafe-pack-cut-')) }), 'disk');
    for (const length of [0, 1, 11]) {
      await storage.put(good.key, good.bytes.subarray(0, length));
      const err = await readPackHeader(storage, good.key, () => cipher).catch((e: unknown) => e);
      expect([asFailsafeError(err).code, exitCodeOf(err)], `cut to ${length}`).toEqual(['E_CORRUPT', 3]);
    }
  });

  it('writes the next pack into the buffer of one given back, grows it past its capacity, and keeps no caller`s buffer', () => {
    const buffers = new PackBuffers(4096, 1);
    const builder = new PackBuilder(2048, buffers);
    const sealedOf = (chunk: Buffer): Buffer => cipher.encrypt(chunk, chunkContext(idOf(chunk)));
    // 1000 + 5985 bytes: past the 4096 the pool makes, so the buffer grows with the chunks already in it kept.
    for (const chunk of [chunks[0]!, chunks[6]!]) builder.add(idOf(chunk), 'data', sealedOf(chunk), chunk.length);
    const first = builder.close(cipher, SLOTS);
    expect(packEntries(Buffer.from(first.bytes), () => cipher, first.key).map((e) => e.plainLength)).toEqual([1000, 6982]);
    buffers.give(first.bytes);
    builder.add(idOf(chunks[1]!), 'data', sealedOf(chunks[1]!), chunks[1]!.length);
    const second = builder.close(cipher, SLOTS);
    expect(second.bytes.buffer).toBe(first.bytes.buffer);
    const [entry] = packEntries(second.bytes, () => cipher, second.key);
    const sealed = second.bytes.subarray(entry!.offset, entry!.offset + entry!.length);
    expect(cipher.decrypt(Buffer.from(sealed), chunkContext(idOf(chunks[1]!))).equals(chunks[1]!)).toBe(true);
    const callers = Buffer.alloc(8192);
    buffers.give(callers);
    expect(buffers.take(100).buffer).not.toBe(callers.buffer);
  });
});
