import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { archiveEntries, checksEveryFile } from '../../core/read/archive.js';
import { TarReader } from '../../core/read/tar-reader.js';
import { FailsafeError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/format/manifest.js';

interface Item {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  content?: Buffer;
  linkname?: string;
}

const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(70)}`;
const items: Item[] = [
  { name: 'src/dir', type: 'directory' },
  { name: 'src/dir/empty.txt', type: 'file', content: Buffer.alloc(0) },
  { name: 'src/dir/small.txt', type: 'file', content: Buffer.from('hello, tar') },
  { name: `src/${deep}/long-name-split-into-prefix.bin`, type: 'file', content: bytes(70_000, 1) },
  { name: 'src/dir/näme-ünicode.txt', type: 'file', content: Buffer.from('pax path') },
  { name: 'src/dir/large.bin', type: 'file', content: bytes(300_000, 2) },
  { name: 'src/dir/link', type: 'symlink', linkname: 'small.txt' },
  { name: 'src/dir/long-link', type: 'symlink', linkname: `../${'x'.repeat(150)}` },
  { name: `src/${'n'.repeat(120)}`, type: 'file', content: Buffer.from('a name with no slash to split at') },
];

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/** The items as tar-stream packs them: the format every snapshot so far was written in. */
async function packed(list: Item[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const item of list) {
    const header: Partial<Header> & { name: string } = {
      name: item.name,
      type: item.type,
      mode: 0o644,
      mtime: new Date(1_700_000_000_000),
      size: item.content?.length ?? 0,
    };
    if (item.linkname) header.linkname = item.linkname;
    await new Promise<void>((resolve, reject) => pack.entry(header, item.content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The same bytes cut into chunks of `size` (the last may be shorter). */
function* chunked(tar: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < tar.length; at += size) yield tar.subarray(at, at + size);
}

function manifestOf(list: Item[]): ManifestEntry[] {
  return list.map((item, i) => ({
    source: 'src',
    path: item.name.slice('src/'.length),
    type: item.type,
    size: item.content?.length ?? 0,
    mode: 0o644,
    mtime: new Date(1_700_000_000_000).toISOString(),
    ...(item.linkname ? { linkTarget: item.linkname } : {}),
    ...(item.content ? { sha256: createHash('sha256').update(item.content).digest('hex') } : {}),
    segment: 0,
    offset: i,
  }));
}

describe('the tar reader', () => {
  it.each([13, 511, 512, 4096, 65_537, 1 << 22])('reads what tar-stream packs, headers and bodies, in chunks of %i bytes', async (size) => {
    const tar = await packed(items);
    const reader = new TarReader(Readable.from(chunked(tar, size)), 'test');
    const seen: Item[] = [];
    for (let header = await reader.next(); header; header = await reader.next()) {
      const content = await reader.read(header.size);
      await reader.skip((512 - (header.size % 512)) % 512);
      seen.push({
        name: header.name.replace(/\/$/, ''),
        type: header.type as Item['type'],
        ...(header.type === 'file' ? { content: Buffer.from(content) } : {}),
        ...(header.linkname ? { linkname: header.linkname } : {}),
      });
    }
    expect(seen).toEqual(items.map((i) => (i.type === 'file' ? i : { name: i.name, type: i.type, ...(i.linkname ? { linkname: i.linkname } : {}) })));
    // tar-stream's own extract agrees on every name (long, split and non-ASCII ones included).
    const names: string[] = [];
    const extract = tarExtract();
    Readable.from([tar]).pipe(extract as unknown as NodeJS.WritableStream);
    for await (const entry of extract) {
      names.push(entry.header.name.replace(/\/$/, ''));
      entry.resume();
    }
    expect(seen.map((i) => i.name)).toEqual(names);
  });

  it('a damaged header and a cut archive are E_CORRUPT', async () => {
    const tar = await packed(items.slice(0, 3));
    const damaged = Buffer.from(tar);
    damaged[20] = 0x41;
    for (const bad of [damaged, tar.subarray(0, 1024 + 100)]) {
      const reader = new TarReader(Readable.from([bad]), 'test');
      const err = await (async () => {
        for (let header = await reader.next(); header; header = await reader.next()) await reader.skip(header.size + ((512 - (header.size % 512)) % 512));
      })().catch((e: unknown) => e);
      expect((err as FailsafeError).code).toBe('E_CORRUPT');
    }
  });
});

describe('archive entries', () => {
  it('hands small files whole and checked, streams large ones, and lets a body go unread', async () => {
    const tar = await packed(items);
    const got = new Map<string, Buffer>();
    for await (const entry of archiveEntries(Readable.from(chunked(tar, 100_003)), manifestOf(items), 'test')) {
      if (entry.type !== 'file' || entry.path === 'dir/small.txt') continue; // left unread
      if (entry.size <= 256 * 1024) expect(entry.content).toBeInstanceOf(Buffer);
      else expect(entry.content).toBeUndefined();
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body!) chunks.push(chunk as Buffer);
      got.set(entry.path, Buffer.concat(chunks));
    }
    expect(got.get('dir/large.bin')).toEqual(items[5]!.content);
    expect(got.get(`${deep}/long-name-split-into-prefix.bin`)).toEqual(items[3]!.content);
    expect(got.get('dir/näme-ünicode.txt')?.toString()).toBe('pax path');
  });

  it.each(['chunks', 'body', 'content'] as const)(
    'with recycled chunks, what %s hands out stays right: each chunk is poisoned once the reader is done with it',
    async (how) => {
      const list = [...items, { name: 'src/dir/large-2.bin', type: 'file' as const, content: bytes(900_000, 3) }];
      const tar = await packed(list);
      // Each chunk in a buffer of its own, overwritten the moment the reader gives it back, as a pool would reuse it.
      const source = Object.assign(Readable.from(Array.from(chunked(tar, 65_537), (c) => Buffer.from(c))), {
        releaseChunk: (chunk: Uint8Array) => void chunk.fill(0xaa),
      });
      const kept: { path: string; bytes: Buffer | (() => Buffer) }[] = [];
      for await (const entry of archiveEntries(source, manifestOf(list), 'test')) {
        if (entry.type !== 'file') continue;
        if (how === 'chunks') {
          const copies: Buffer[] = [];
          for await (const chunk of entry.chunks!()) {
            await new Promise((resolve) => setImmediate(resolve)); // as a write to disk would
            copies.push(Buffer.from(chunk));
          }
          kept.push({ path: entry.path, bytes: Buffer.concat(copies) });
        } else if (how === 'body') {
          // Read whole but looked at only at the end, as a plugin that buffers would.
          const chunks: Buffer[] = [];
          for await (const chunk of entry.body!) chunks.push(chunk as Buffer);
          kept.push({ path: entry.path, bytes: () => Buffer.concat(chunks) });
        } else if (entry.size <= 256 * 1024) {
          kept.push({ path: entry.path, bytes: () => entry.content! }); // first touched after later entries
        }
      }
      expect(kept.length).toBeGreaterThan(3);
      for (const { path, bytes: got } of kept) {
        const want = list.find((i) => i.name === `src/${path}`)!.content!;
        expect((typeof got === 'function' ? got() : got).equals(want)).toBe(true);
      }
    },
  );

  it.each(['dir/small.txt', 'dir/large.bin'])('a wrong SHA-256 of %s is E_CHECKSUM, read or not', async (path) => {
    const tar = await packed(items);
    const manifest = manifestOf(items).map((e) => (e.path === path ? { ...e, sha256: '0'.repeat(64) } : e));
    for (const read of [true, false]) {
      const err = await (async () => {
        for await (const entry of archiveEntries(Readable.from(chunked(tar, 65_536)), manifest, 'test')) {
          if (read && entry.body) for await (const _ of entry.body) void _;
        }
      })().catch((e: unknown) => e);
      expect((err as FailsafeError).code).toBe('E_CHECKSUM');
      expect((err as FailsafeError).message).toContain(`src/${path}`);
    }
  });

  it('hashing large files on a thread: a shared chunk goes back only once hashed, and a wrong SHA-256 is still E_CHECKSUM', async () => {
    const list = [...items, { name: 'src/dir/large-2.bin', type: 'file' as const, content: bytes(900_000, 3) }];
    const tar = await packed(list);
    let released = 0;
    // Shared-memory chunks, as the restore's pool hands them out, poisoned the moment they are given back.
    const pooled = () =>
      Object.assign(
        Readable.from(
          Array.from(chunked(tar, 65_537), (c) => {
            const shared = Buffer.from(new SharedArrayBuffer(c.length));
            shared.set(c);
            return shared;
          }),
        ),
        { releaseChunk: (chunk: Uint8Array) => void (released++, chunk.fill(0xaa)) },
      );
    const restored = new Map<string, Buffer>();
    for await (const entry of archiveEntries(pooled(), manifestOf(list), 'test', { hashThread: true })) {
      if (entry.type !== 'file') continue;
      const copies: Buffer[] = [];
      for await (const chunk of entry.chunks!()) copies.push(Buffer.from(chunk));
      restored.set(entry.path, Buffer.concat(copies));
    }
    expect(restored.get('dir/large-2.bin')!.equals(list.at(-1)!.content!)).toBe(true);
    expect(restored.get('dir/large.bin')!.equals(items[5]!.content!)).toBe(true);
    expect(released).toBeGreaterThan(10);
    for (const read of [true, false]) {
      const manifest = manifestOf(list).map((e) => (e.path === 'dir/large-2.bin' ? { ...e, sha256: '0'.repeat(64) } : e));
      const err = await (async () => {
        for await (const entry of archiveEntries(pooled(), manifest, 'test', { hashThread: true })) {
          if (read && entry.chunks) for await (const _ of entry.chunks()) void _;
        }
      })().catch((e: unknown) => e);
      expect((err as FailsafeError).code, `read: ${read}`).toBe('E_CHECKSUM');
      expect((err as FailsafeError).message).toContain('src/dir/large-2.bin');
    }
  });

  it('an entry the manifest does not list, or lists with another type, is E_CORRUPT', async () => {
    const tar = await packed(items.slice(0, 3));
    for (const manifest of [manifestOf(items.slice(0, 2)), manifestOf(items.slice(0, 3)).map((e, i) => (i === 2 ? { ...e, type: 'symlink' as const } : e))]) {
      const err = await (async () => {
        for await (const _ of archiveEntries(Readable.from([tar]), manifest, 'test')) void _;
      })().catch((e: unknown) => e);
      expect((err as FailsafeError).code).toBe('E_CORRUPT');
    }
  });

  it('checks every file only when each has its SHA-256 (the segments skip their own plaintext hash then)', () => {
    const manifest = manifestOf(items);
    expect(checksEveryFile(manifest)).toBe(true);
    expect(checksEveryFile(manifest.map((e) => (e.path === 'dir/large.bin' ? { ...e, sha256: undefined } : e)))).toBe(false);
    // Folders and symlinks are made from the manifest, not from archive bytes.
    expect(checksEveryFile(manifest.filter((e) => e.type !== 'file'))).toBe(true);
  });
});
