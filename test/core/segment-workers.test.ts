import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateSegment } from '../../core/pipeline/segmenter.js';
import { sha256Hex, type SegmentCodecSpec } from '../../core/pipeline/segment-work.js';
import { SegmentWorkers } from '../../core/pipeline/segment-workers.js';

const key = randomBytes(32);
const spec = (over: Partial<SegmentCodecSpec> = {}): SegmentCodecSpec => ({
  compression: { algorithm: 'gzip', level: 1 },
  cipher: { name: 'xchacha20poly1305-secretstream', key },
  ...over,
});

/** Half text, half random bytes, in shared memory as the segmenter hands them over. */
function plainSegment(size: number): Buffer {
  const plain = allocateSegment(size);
  Buffer.from('log line 42: all is well\n'.repeat(Math.ceil(size / 50))).copy(plain, 0, 0, size / 2);
  randomBytes(size / 2).copy(plain, size / 2);
  return plain;
}

let pools: SegmentWorkers[] = [];
const pool = (s: SegmentCodecSpec, size = 2) => {
  const p = new SegmentWorkers(s, size);
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

async function sealOne(workers: SegmentWorkers, plain: Buffer, context = 'ctx/0') {
  const sealed = await workers.seal({ index: 0, plain, context });
  if (!('data' in sealed)) throw new Error('expected a sealed segment');
  return sealed;
}

describe('segment worker threads', () => {
  it('seal in one pool, open in another: the bytes, sizes and hashes come back', async () => {
    const plain = plainSegment(1 << 20);
    const sealed = await sealOne(pool(spec()), plain);
    expect(Buffer.isBuffer(sealed.data)).toBe(true);
    expect(sealed).toMatchObject({ plainSize: plain.length, sha256: sha256Hex(sealed.data), header: sealed.data.subarray(0, 24).toString('base64') });
    // Compressed (the text half) and sealed: not the plaintext.
    expect(sealed.data.length).toBeLessThan(plain.length);
    expect(sealed.data.includes(Buffer.from('all is well'))).toBe(false);
    const opened = await pool(spec()).open({
      stored: sealed.data,
      context: 'ctx/0',
      storedSize: sealed.data.length,
      sha256: sealed.sha256,
      plainSize: sealed.plainSize,
      plainSha256: sha256Hex(plain),
      what: 't:k',
    });
    expect(opened.equals(plain)).toBe(true);
  });

  it("writes the sealed bytes into the caller's shared buffer when one is given, so nothing is allocated per segment", async () => {
    const workers = pool(spec({ compression: { algorithm: 'zstd', level: 3 } }));
    const plain = plainSegment(1 << 20);
    const out = allocateSegment((1 << 20) + 65_536);
    const sealed = await workers.seal({ index: 0, plain, context: 'ctx/0', out });
    if (!('data' in sealed)) throw new Error('expected a sealed segment');
    expect(sha256Hex(out.subarray(0, sealed.data.length))).toBe(sealed.sha256);
    // The same memory, not a copy of it.
    const before = sealed.data[0];
    out[0]! ^= 0xff;
    expect(sealed.data[0]).toBe(before! ^ 0xff);
    out[0]! ^= 0xff;
    const opened = await workers.open({
      stored: Buffer.from(sealed.data),
      context: 'ctx/0',
      storedSize: sealed.data.length,
      sha256: sealed.sha256,
      plainSize: sealed.plainSize,
      what: 't:k',
    });
    expect(opened.equals(plain)).toBe(true);
    // An output buffer too small for the sealed bytes is not overrun: the worker seals into a new one.
    const tiny = allocateSegment(1024);
    const fallback = await workers.seal({ index: 1, plain, context: 'ctx/1', out: tiny });
    expect(tiny.equals(Buffer.alloc(1024))).toBe(true);
    expect('data' in fallback && fallback.data.buffer instanceof SharedArrayBuffer).toBe(false);
  });

  it('keeps order-independent requests apart: many at once on two threads', async () => {
    const workers = pool(spec({ compression: { algorithm: 'brotli', level: 1 } }));
    const plains = Array.from({ length: 12 }, () => plainSegment(64 * 1024));
    const sealed = await Promise.all(plains.map((plain, index) => workers.seal({ index, plain, context: `ctx/${index}` })));
    const opener = pool(spec({ compression: { algorithm: 'brotli', level: 1 } }));
    for (const [i, s] of sealed.entries()) {
      if (!('data' in s)) throw new Error('expected a sealed segment');
      expect(s.index).toBe(i);
      const opened = await opener.open({
        stored: s.data,
        context: `ctx/${i}`,
        storedSize: s.data.length,
        sha256: s.sha256,
        plainSize: s.plainSize,
        what: 't:k',
      });
      expect(opened.equals(plains[i]!)).toBe(true);
    }
  });

  it("reports a segment whose plaintext still matches an earlier version's record (its plaintext SHA-256) as reused", async () => {
    const plain = plainSegment(128 * 1024);
    const result = await pool(spec()).seal({
      index: 3,
      plain,
      context: 'c',
      expect: { plainSize: plain.length, sha256: 'stored', plainSha256: sha256Hex(plain) },
    });
    expect(result).toEqual({ index: 3, plainSize: plain.length, reused: true });
    const changed = Buffer.from(plain);
    changed[5]! ^= 1;
    const resealed = await pool(spec()).seal({
      index: 3,
      plain: changed,
      context: 'c',
      expect: { plainSize: plain.length, sha256: 'stored', plainSha256: sha256Hex(plain) },
    });
    expect('data' in resealed).toBe(true);
  });

  for (const cipher of ['xchacha20poly1305-secretstream', 'none'] as const) {
    it(`keeps a stored segment when sealing the plaintext again with its header gives its bytes (${cipher}), and seals a changed one afresh`, async () => {
      const s = spec({ compression: { algorithm: 'zstd', level: 1 }, ...(cipher === 'none' ? { cipher: { name: 'none' } } : {}) });
      const workers = pool(s);
      const plain = plainSegment(256 * 1024);
      const first = await workers.seal({ index: 2, plain, context: 'snap/2', out: allocateSegment(300 * 1024) });
      if (!('data' in first)) throw new Error('expected a sealed segment');
      const stored = Buffer.from(first.data);
      const expectation = { plainSize: first.plainSize, sha256: first.sha256, header: first.header };
      // Into a shared buffer (in place, as a backup does) and into a new one: the same answer.
      expect(await workers.seal({ index: 2, plain, context: 'snap/2', out: allocateSegment(300 * 1024), expect: expectation })).toEqual({
        index: 2,
        plainSize: plain.length,
        reused: true,
      });
      expect(await workers.seal({ index: 2, plain, context: 'snap/2', expect: expectation })).toEqual({ index: 2, plainSize: plain.length, reused: true });
      const changed = Buffer.from(plain);
      changed[plain.length - 1]! ^= 1;
      const again = await workers.seal({ index: 2, plain: changed, context: 'snap/2', expect: expectation });
      if (!('data' in again)) throw new Error('a changed plaintext must be sealed again');
      expect(again.sha256).not.toBe(first.sha256);
      if (cipher !== 'none') {
        // Sealed afresh, not with the stored object's header: a header never seals two plaintexts.
        expect(again.header).not.toBe(first.header);
        expect(again.data.subarray(0, 24).equals(stored.subarray(0, 24))).toBe(false);
      }
      const opened = await workers.open({
        stored: again.data,
        context: 'snap/2',
        storedSize: again.data.length,
        sha256: again.sha256,
        plainSize: again.plainSize,
        what: 't:k',
      });
      expect(opened.equals(changed)).toBe(true);
      // A header the cipher cannot take (a damaged checkpoint) is no match: sealed afresh, not an error.
      if (cipher !== 'none')
        expect('data' in (await workers.seal({ index: 2, plain, context: 'snap/2', expect: { ...expectation, header: 'AAAA' } }))).toBe(true);
      // Encrypted, another position is another context (authenticated): not the stored bytes.
      if (cipher !== 'none') expect('data' in (await workers.seal({ index: 2, plain, context: 'snap/3', expect: expectation }))).toBe(true);
    });
  }

  it('refuses altered objects, a wrong key and a wrong position with the stable codes', async () => {
    const plain = plainSegment(256 * 1024);
    const sealed = await sealOne(pool(spec()), plain, 'snap/1');
    const request = {
      context: 'snap/1',
      storedSize: sealed.data.length,
      sha256: sealed.sha256,
      plainSize: sealed.plainSize,
      plainSha256: sha256Hex(plain),
      what: 'disk:data/x',
    };
    const reader = pool(spec());
    const flipped = Buffer.from(sealed.data);
    flipped[100]! ^= 1;
    await expect(reader.open({ ...request, stored: flipped })).rejects.toMatchObject({ code: 'E_CHECKSUM', message: expect.stringContaining('disk:data/x') });
    // The stored hash matches but the key does not (an attacker who rewrote the manifest's hash could get this far).
    await expect(
      pool(spec({ cipher: { name: 'xchacha20poly1305-secretstream', key: randomBytes(32) } })).open({ ...request, stored: Buffer.from(sealed.data) }),
    ).rejects.toMatchObject({ code: 'E_WRONG_KEY' });
    await expect(reader.open({ ...request, stored: Buffer.from(sealed.data), context: 'snap/2' })).rejects.toMatchObject({ code: 'E_WRONG_KEY' });
    await expect(reader.open({ ...request, stored: Buffer.from(sealed.data), plainSha256: sha256Hex(Buffer.from('other')) })).rejects.toMatchObject({
      code: 'E_CHECKSUM',
    });
  });

  it('tells a damaged object from a wrong key after decrypting in place, and leaves shared memory alone', async () => {
    const plain = plainSegment(512 * 1024);
    const sealed = await sealOne(pool(spec()), plain, 'snap/1');
    const request = { context: 'snap/1', storedSize: sealed.data.length, sha256: sealed.sha256, plainSize: sealed.plainSize, what: 'disk:data/y' };
    const reader = pool(spec(), 1);
    // Chunks before the flipped one were already opened over the stored bytes when the bad tag is found.
    const late = Buffer.from(sealed.data);
    late[late.length - 100]! ^= 1;
    await expect(reader.open({ ...request, stored: late })).rejects.toMatchObject({ code: 'E_CHECKSUM' });
    // Without the plaintext hash the sizes still count.
    await expect(reader.open({ ...request, stored: Buffer.from(sealed.data), plainSize: sealed.plainSize - 1 })).rejects.toMatchObject({ code: 'E_CHECKSUM' });
    const shared = allocateSegment(sealed.data.length);
    sealed.data.copy(shared);
    expect((await reader.open({ ...request, stored: shared })).equals(plain)).toBe(true);
    expect(shared.equals(sealed.data)).toBe(true);
  });

  it('reads a local file itself: the same plaintext, E_NOT_FOUND when missing, E_CHECKSUM when longer or shorter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-segment-file-'));
    try {
      const plain = plainSegment(300 * 1024);
      const sealed = await sealOne(pool(spec()), plain, 'snap/3');
      const request = { context: 'snap/3', storedSize: sealed.data.length, sha256: sealed.sha256, plainSize: sealed.plainSize, what: 'disk:data/f' };
      const file = join(dir, '00000003');
      await writeFile(file, sealed.data);
      const reader = pool(spec(), 1);
      // Twice in a row: the worker's reused read buffer holds the next segment, the first reply is untouched.
      const [first, second] = [await reader.open({ ...request, file }), await reader.open({ ...request, file })];
      expect(first.equals(plain) && second.equals(plain)).toBe(true);
      // Into the caller's shared buffer, when it gives one.
      const out = allocateSegment(plain.length + 100);
      await reader.open({ ...request, file, out });
      expect(out.subarray(0, plain.length).equals(plain)).toBe(true);
      await expect(reader.open({ ...request, file: join(dir, 'missing') })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      await writeFile(file, Buffer.concat([sealed.data, Buffer.from('x')]));
      await expect(reader.open({ ...request, file })).rejects.toMatchObject({ code: 'E_CHECKSUM' });
      await writeFile(file, sealed.data.subarray(1));
      await expect(reader.open({ ...request, file })).rejects.toMatchObject({ code: 'E_CHECKSUM' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without compression or encryption, a reply read from a file is not overwritten by the next read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-segment-file-'));
    try {
      const plain = [plainSegment(4 << 20), plainSegment(4 << 20).fill(7)];
      const bare = spec({ compression: { algorithm: 'none', level: 0 }, cipher: { name: 'none' } });
      const reader = pool(bare, 1);
      const opened: Buffer[] = [];
      for (const [i, p] of plain.entries()) {
        const sealed = await sealOne(pool(bare, 1), p);
        await writeFile(join(dir, String(i)), sealed.data);
        opened.push(
          await reader.open({
            context: 'ctx/0',
            storedSize: sealed.data.length,
            sha256: sealed.sha256,
            plainSize: sealed.plainSize,
            what: 'd:k',
            file: join(dir, String(i)),
          }),
        );
      }
      expect(opened[0]!.equals(plain[0]!) && opened[1]!.equals(plain[1]!)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('checks the stored hash before decompressing when the cipher does not authenticate', async () => {
    const plain = plainSegment(256 * 1024);
    const none = spec({ cipher: { name: 'none' } });
    const sealed = await sealOne(pool(none), plain);
    const flipped = Buffer.from(sealed.data);
    flipped[flipped.length - 1]! ^= 1;
    const request = { context: 'ctx/0', storedSize: sealed.data.length, sha256: sealed.sha256, plainSize: sealed.plainSize, what: 'disk:data/z' };
    await expect(pool(none).open({ ...request, stored: flipped })).rejects.toMatchObject({
      code: 'E_CHECKSUM',
      message: expect.stringContaining('stored object'),
    });
  });

  it('fails requests instead of hanging when the codecs cannot be built, and after close', async () => {
    const broken = pool(spec({ cipher: { name: 'xchacha20poly1305-secretstream', key: randomBytes(7) } }), 1);
    await expect(broken.seal({ index: 0, plain: plainSegment(4096), context: 'c' })).rejects.toThrow(/could not start/);
    const workers = new SegmentWorkers(spec(), 1);
    await workers.close();
    await expect(workers.seal({ index: 0, plain: plainSegment(4096), context: 'c' })).rejects.toMatchObject({ code: 'E_ABORTED' });
  });
});
