import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readlink, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { LocalFileChange, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { isFailsafeError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/format/manifest.js';
import { mtimeOf } from '../../core/fs/mtime.js';
import { collect, type CollectOptions } from '../../core/pipeline/collect.js';
import type { PlainSegment } from '../../core/pipeline/segmenter.js';
import { encodeHeader } from '../../core/pipeline/tar-header.js';
import { SegmentWindow } from '../../core/pipeline/window.js';

const MTIME = new Date('2024-05-06T07:08:09Z');

interface Item {
  path: string;
  type: SourceEntry['type'];
  body?: Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkTarget?: string;
}

const bytes = (size: number, seed: number): Buffer => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) % 251));
const accents = (n: number): string => 'é'.repeat(n); // two bytes each

/** Entries tar-stream packs in every way it can: ustar with a prefix, PAX names and link targets, odd modes and ids, block edges. */
const CORPUS: Item[] = [
  { path: 'dir', type: 'directory', mode: 0o750 },
  { path: 'dir/empty', type: 'file', body: Buffer.alloc(0) },
  { path: 'dir/one-block', type: 'file', body: bytes(512, 1) },
  { path: 'dir/odd', type: 'file', body: bytes(777, 2) },
  { path: 'dir/large', type: 'file', body: bytes(300 * 1024 + 3, 3) },
  { path: `dir/${'a'.repeat(60)}/${'b'.repeat(60)}/prefix-split.txt`, type: 'file', body: bytes(10, 4) },
  { path: `dir/${'c'.repeat(80)}/${'d'.repeat(80)}/${'e'.repeat(80)}/pax-name.txt`, type: 'file', body: bytes(20, 5) },
  { path: `dir/${'f'.repeat(120)}`, type: 'file', body: bytes(30, 6) },
  { path: 'dir/café ☕.txt', type: 'file', body: bytes(40, 7) },
  { path: 'répertoire', type: 'directory' },
  // PAX records whose length crosses from two digits to three.
  ...[44, 45, 46].map((n, i) => ({ path: `p/${accents(n)}`, type: 'file' as const, body: bytes(i, 8) })),
  { path: 'dir/link', type: 'symlink', linkTarget: 'odd' },
  { path: 'dir/long-link', type: 'symlink', linkTarget: `../${'g'.repeat(150)}` },
  { path: 'dir/accented-link', type: 'symlink', linkTarget: 'café ☕.txt' },
  { path: 'dir/mode-zero', type: 'file', body: bytes(5, 9), mode: 0 },
  { path: 'dir/big-ids', type: 'file', body: bytes(6, 10), uid: 300_000, gid: 5 },
  { path: 'dir/exact-two-blocks', type: 'file', body: bytes(1024, 11) },
];

/** A custom plugin: entries with only an `open()` stream, or with a local file too when `dir` holds their bodies. */
function corpusSource(items: Item[], local?: { dir: string; changes: LocalFileChange[] }): SourcePlugin {
  return {
    type: 'corpus',
    name: 'src',
    liveLocations: () => [],
    restore: async () => 0,
    async *entries(): AsyncIterable<SourceEntry> {
      for (const [i, item] of items.entries()) {
        const body = item.body;
        yield {
          path: item.path,
          type: item.type,
          size: body?.length ?? 0,
          mode: item.mode ?? (item.type === 'directory' ? 0o755 : 0o644),
          mtime: MTIME,
          ...(item.uid === undefined ? {} : { uid: item.uid, gid: item.gid }),
          ...(item.linkTarget === undefined ? {} : { linkTarget: item.linkTarget }),
          ...(body === undefined ? {} : { open: () => Readable.from(body.length > 100 ? [body.subarray(0, 100), body.subarray(100)] : [body]) }),
          ...(body === undefined || !local
            ? {}
            : { localFile: { path: join(local.dir, `f${i}`), changed: (what: LocalFileChange) => void local.changes.push(what) } }),
        };
      }
    },
  };
}

async function writeBodies(items: Item[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-collect-'));
  for (const [i, item] of items.entries()) {
    if (!item.body) continue;
    await writeFile(join(dir, `f${i}`), item.body);
    await utimes(join(dir, `f${i}`), MTIME, MTIME);
  }
  return dir;
}

/** The tar stream as the collect stage built it with tar-stream, and each entry's offset. */
async function tarStreamReference(items: Item[]): Promise<{ tar: Buffer; offsets: number[] }> {
  const pack = tarPack();
  let offset = 0;
  const push = pack.push.bind(pack);
  pack.push = (data: Buffer | Uint8Array | null) => {
    if (data) offset += data.byteLength;
    return push(data);
  };
  const chunks: Buffer[] = [];
  const reading = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  const offsets: number[] = [];
  for (const item of items) {
    offsets.push(offset);
    const header: Partial<Header> & { name: string } = {
      name: `src/${item.path}`,
      type: item.type,
      mode: item.mode ?? (item.type === 'directory' ? 0o755 : 0o644),
      mtime: MTIME,
      size: item.body?.length ?? 0,
      ...(item.uid === undefined ? {} : { uid: item.uid, gid: item.gid }),
      ...(item.type === 'symlink' ? { linkname: item.linkTarget } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (item.body) pack.entry(header, item.body, done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  await reading;
  return { tar: Buffer.concat(chunks), offsets };
}

async function run(sources: SourcePlugin[], options: Partial<CollectOptions> & { segmentSize: number }, onSegment?: (s: PlainSegment) => Promise<void>) {
  const warnings: string[] = [];
  const collection = collect(sources, { context: { warn: (m) => warnings.push(m) }, ...options });
  const segments: PlainSegment[] = [];
  await pipeline(
    collection.segments,
    new Writable({
      objectMode: true,
      write: (segment: PlainSegment, _e, cb) => {
        segments.push({ index: segment.index, data: Buffer.from(segment.data) });
        const next = onSegment ? onSegment(segment) : Promise.resolve();
        next.then(() => {
          options.window?.release();
          collection.recycle(segment.index);
          cb();
        }, cb);
      },
    }),
  );
  const collected = await collection.done;
  return { ...collected, segments, tar: Buffer.concat(segments.map((s) => s.data)), warnings };
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const absolute = (e: ManifestEntry, segmentSize: number): number => e.segment * segmentSize + e.offset;

describe('collect: the tar writer', () => {
  it("writes tar-stream's bytes exactly, from open() streams and from local files, with exact offsets and hashes", async () => {
    const reference = await tarStreamReference(CORPUS);
    const changes: LocalFileChange[] = [];
    const dir = await writeBodies(CORPUS);
    for (const source of [corpusSource(CORPUS), corpusSource(CORPUS, { dir, changes })]) {
      for (const segmentSize of [4096, 64 * 1024]) {
        const got = await run([source], { segmentSize });
        expect(got.tar.equals(reference.tar)).toBe(true);
        expect(got.segments.slice(0, -1).every((s) => s.data.length === segmentSize)).toBe(true);
        expect(got.entries.map((e) => absolute(e, segmentSize))).toEqual(reference.offsets);
        got.entries.forEach((e, i) => expect(e.sha256).toBe(CORPUS[i]!.body ? sha(CORPUS[i]!.body!) : undefined));
      }
    }
    expect(changes).toEqual([]);
  });

  it("GNU tar and tar-stream's extract read every entry back: names, link targets and bytes", async () => {
    const { tar } = await run([corpusSource(CORPUS)], { segmentSize: 8192 });
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-gnutar-'));
    await writeFile(join(dir, 'out.tar'), tar);
    const listed = execFileSync('tar', ['--quoting-style=literal', '-tvf', join(dir, 'out.tar')], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    const lines = listed.trimEnd().split('\n');
    expect(lines).toHaveLength(CORPUS.length);
    lines.forEach((line, i) => {
      const item = CORPUS[i]!;
      expect(line[0]).toBe({ file: '-', directory: 'd', symlink: 'l' }[item.type]);
      expect(line.endsWith(` src/${item.path}${item.linkTarget === undefined ? '' : ` -> ${item.linkTarget}`}`)).toBe(true);
      if (item.body) expect(line).toContain(` ${item.body.length} 2024-05-06 `);
    });
    execFileSync('tar', ['-xf', join(dir, 'out.tar'), '-C', dir]);
    for (const item of CORPUS) {
      if (item.body) expect((await readFile(join(dir, 'src', item.path))).equals(item.body)).toBe(true);
      if (item.linkTarget) expect(await readlink(join(dir, 'src', item.path))).toBe(item.linkTarget);
    }

    const extracted: { name: string; linkname: string | null | undefined; body: Buffer }[] = [];
    const extract = tarExtract();
    const reading = (async () => {
      for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        extracted.push({ name: entry.header.name, linkname: entry.header.linkname, body: Buffer.concat(chunks) });
      }
    })();
    extract.end(tar);
    await reading;
    expect(extracted.map((e) => e.name)).toEqual(CORPUS.map((e) => `src/${e.path}`));
    extracted.forEach((e, i) => {
      expect(e.body.equals(CORPUS[i]!.body ?? Buffer.alloc(0))).toBe(true);
      if (CORPUS[i]!.linkTarget) expect(e.linkname).toBe(CORPUS[i]!.linkTarget);
    });
  });

  // Dates outside 1970-2038 are not: tar-stream wraps them, Failsafe writes a PAX mtime (test/core/tar-times.test.ts).
  it('encodes headers tar-stream cannot show in a corpus the same way: base-256 sizes, clamped ids, the last second of 2038-01-19 ustar holds', async () => {
    const cases = [
      { name: 'huge', type: 'file' as const, size: 9 * 1024 ** 3 + 7, mode: 0o600, mtime: MTIME },
      { name: 'ids', type: 'file' as const, size: 1, mode: 0o644, mtime: MTIME, uid: 2 ** 31, gid: 262_144 },
      { name: 'epoch', type: 'file' as const, size: 1, mode: 0o644, mtime: new Date(0) },
      { name: 'last', type: 'directory' as const, size: 0, mode: 0, mtime: new Date((2 ** 31 - 1) * 1000 + 999) },
    ];
    for (const header of cases) {
      const pack = tarPack();
      pack.entry({ ...header });
      const first = await new Promise<Buffer>((resolve) => pack.once('data', (data) => resolve(data as Buffer)));
      expect(encodeHeader(header).equals(first)).toBe(true);
      pack.destroy();
    }
  });

  it('records the offset of an entry that starts exactly on a segment boundary, and cuts its body there', async () => {
    // Header (512) + 1536 bytes = 2048: the second entry's header is byte 0 of segment 1, and its body ends segment 2.
    const items: Item[] = [
      { path: 'first', type: 'file', body: bytes(1536, 1) },
      { path: 'second', type: 'file', body: bytes(1536, 2) },
      { path: 'after', type: 'directory' },
    ];
    const dir = await writeBodies(items);
    const reference = await tarStreamReference(items);
    for (const source of [corpusSource(items), corpusSource(items, { dir, changes: [] })]) {
      const got = await run([source], { segmentSize: 2048 });
      expect(got.entries.map((e) => [e.segment, e.offset])).toEqual([
        [0, 0],
        [1, 0],
        [2, 0],
      ]);
      expect(got.segments.map((s) => s.data.length)).toEqual([2048, 2048, 1536]); // the last: a header and the two zero blocks
      expect(got.tar.equals(reference.tar)).toBe(true);
    }
  });

  it('a local file that shrinks while read is padded with zeros, hashed as archived, and reported', async () => {
    const body = bytes(1024 * 1024, 5);
    const dir = await writeBodies([{ path: 'x', type: 'file', body }]);
    const changes: LocalFileChange[] = [];
    const items: Item[] = [
      { path: 'x', type: 'file', body },
      { path: 'next', type: 'file', body: bytes(100, 6) },
    ];
    await writeFile(join(dir, 'f1'), items[1]!.body!);
    await utimes(join(dir, 'f1'), MTIME, MTIME);
    const window = new SegmentWindow(1);
    // The window holds the writer in the middle of the file until segment 2 is stored; the file shrinks meanwhile.
    const got = await run([corpusSource(items, { dir, changes })], { segmentSize: 64 * 1024, window }, async (segment) => {
      if (segment.index === 2) await truncate(join(dir, 'f0'), 400_000);
    });
    expect(changes).toEqual(['shrank']);
    const archived = got.tar.subarray(512, 512 + body.length);
    expect(archived.subarray(0, 400_000).equals(body.subarray(0, 400_000))).toBe(true);
    expect(archived.subarray(400_000).equals(Buffer.alloc(body.length - 400_000))).toBe(true);
    expect(got.entries[0]!.sha256).toBe(sha(archived));
    // The next entry sits where the announced size puts it.
    expect(absolute(got.entries[1]!, 64 * 1024)).toBe(512 + body.length);
    expect(got.entries[1]!.sha256).toBe(sha(items[1]!.body!));
  });

  it('a local file that grows while read is cut at its announced size; small files read ahead too', async () => {
    for (const size of [2000, 600 * 1024]) {
      const body = bytes(size, 7);
      const dir = await writeBodies([{ path: 'x', type: 'file', body }]);
      await writeFile(join(dir, 'f0'), Buffer.concat([body, Buffer.from('appended')]));
      await utimes(join(dir, 'f0'), MTIME, MTIME);
      const changes: LocalFileChange[] = [];
      const got = await run([corpusSource([{ path: 'x', type: 'file', body }], { dir, changes })], { segmentSize: 64 * 1024 });
      expect(changes).toEqual(['grew']);
      expect(got.tar.subarray(512, 512 + size).equals(body)).toBe(true);
      expect(got.entries[0]!.sha256).toBe(sha(body));
    }
  });

  it("a local file's time is compared to the millisecond either way it was rounded; a time one millisecond off is a change", async () => {
    const LATE = 1_700_000_000.9996; // Node's Stats.mtime rounds this up, mtimeOf down
    for (const size of [2000, 600 * 1024]) {
      const dir = await mkdtemp(join(tmpdir(), 'failsafe-collect-'));
      const file = join(dir, 'f');
      await writeFile(file, bytes(size, 9));
      await utimes(file, LATE, LATE);
      const info = await stat(file);
      const changes: LocalFileChange[] = [];
      const source = (mtimes: Date[]): SourcePlugin => ({
        ...corpusSource([]),
        async *entries() {
          for (const [i, mtime] of mtimes.entries()) {
            yield { path: `x${i}`, type: 'file', size, mode: 0o644, mtime, localFile: { path: file, changed: (what) => void changes.push(what) } };
          }
        },
      });
      await run([source([info.mtime, mtimeOf(info)])], { segmentSize: 64 * 1024 });
      expect(changes, `${size} bytes`).toEqual([]);
      await run([source([new Date(mtimeOf(info).getTime() - 1)])], { segmentSize: 64 * 1024 });
      expect(changes, `${size} bytes`).toEqual(['changed']);
    }
  });

  it('a source whose changed() throws fails the collect with its error; a stream of the wrong length is E_SOURCE_CHANGED', async () => {
    const body = bytes(3000, 8);
    const dir = await writeBodies([{ path: 'x', type: 'file', body }]);
    await truncate(join(dir, 'f0'), 10);
    const strict: SourcePlugin = {
      ...corpusSource([{ path: 'x', type: 'file', body }]),
      async *entries() {
        yield {
          path: 'x',
          type: 'file',
          size: 3000,
          mode: 0o644,
          mtime: MTIME,
          localFile: {
            path: join(dir, 'f0'),
            changed: () => {
              throw new Error('torn copy');
            },
          },
        };
      },
    };
    await expect(run([strict], { segmentSize: 4096 })).rejects.toThrow('torn copy');
    const short: SourcePlugin = {
      ...corpusSource([]),
      async *entries() {
        yield { path: 'x', type: 'file', size: 3000, mode: 0o644, mtime: MTIME, open: () => Readable.from([body.subarray(0, 10)]) };
      },
    };
    await expect(run([short], { segmentSize: 4096 })).rejects.toSatisfy((err) => isFailsafeError(err, 'E_SOURCE_CHANGED'));
  });

  it('writes into SharedArrayBuffer-backed segments (the worker threads read them without a copy), recycled, with the same bytes', async () => {
    const reference = await tarStreamReference(CORPUS);
    const dir = await writeBodies(CORPUS);
    const buffers = new Set<ArrayBufferLike>();
    const window = new SegmentWindow(2);
    const got = await run([corpusSource(CORPUS, { dir, changes: [] })], { segmentSize: 16 * 1024, window }, async (segment) => {
      buffers.add(segment.data.buffer);
    });
    expect(got.tar.equals(reference.tar)).toBe(true);
    expect([...buffers].every((b) => b instanceof SharedArrayBuffer)).toBe(true);
    // Recycled: a window of 2 needs at most 3 buffers, however many segments.
    expect(got.segments.length).toBeGreaterThan(10);
    expect(buffers.size).toBeLessThanOrEqual(3);
  });

  it('with fewer buffers than the window, the writer waits for a recycled buffer, not for a stored segment', async () => {
    const reference = await tarStreamReference(CORPUS);
    const dir = await writeBodies(CORPUS);
    const window = new SegmentWindow(4);
    const collection = collect([corpusSource(CORPUS, { dir, changes: [] })], {
      segmentSize: 16 * 1024,
      window,
      buffers: 2,
      context: { warn: () => undefined },
    });
    const buffers = new Set<ArrayBufferLike>();
    const chunks: Buffer[] = [];
    const stored: Promise<void>[] = [];
    let alive = 0;
    let mostAlive = 0;
    for await (const segment of collection.segments as AsyncIterable<PlainSegment>) {
      buffers.add(segment.data.buffer);
      chunks.push(Buffer.from(segment.data));
      // Sealed at once (its plaintext is done with), stored a little later (its window permit comes back then).
      collection.recycle(segment.index);
      mostAlive = Math.max(mostAlive, ++alive);
      stored.push(
        new Promise((resolve) => setTimeout(resolve, 5)).then(() => {
          alive--;
          window.release();
        }),
      );
    }
    await Promise.all(stored);
    await collection.done;
    expect(Buffer.concat(chunks).equals(reference.tar)).toBe(true);
    expect(buffers.size).toBe(2);
    expect(mostAlive).toBeGreaterThan(2);
  });

  it('a writer waiting for a buffer fails, instead of hanging, when the segments stream is destroyed', async () => {
    const body = bytes(256 * 1024, 10);
    const dir = await writeBodies([{ path: 'x', type: 'file', body }]);
    const collection = collect([corpusSource([{ path: 'x', type: 'file', body }], { dir, changes: [] })], {
      segmentSize: 16 * 1024,
      buffers: 2,
      context: { warn: () => undefined },
    });
    let received = 0;
    for await (const segment of collection.segments as AsyncIterable<PlainSegment>) {
      received = segment.index + 1;
      // Nothing is recycled: the writer is stuck waiting for a third buffer once two segments are out.
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (received === 2) break;
    }
    await expect(collection.done).rejects.toThrow();
    expect(received).toBe(2);
  });

  it('an abort stops the writer between reads with the abort error', async () => {
    const controller = new AbortController();
    const body = bytes(2 * 1024 * 1024, 9);
    const dir = await writeBodies([{ path: 'x', type: 'file', body }]);
    const window = new SegmentWindow(1);
    const collecting = run(
      [corpusSource([{ path: 'x', type: 'file', body }], { dir, changes: [] })],
      { segmentSize: 64 * 1024, window, context: { signal: controller.signal, warn: () => undefined } },
      async (segment) => {
        if (segment.index === 3) controller.abort();
      },
    );
    await expect(collecting).rejects.toSatisfy((err) => (err as Error).name === 'AbortError');
  });
});
