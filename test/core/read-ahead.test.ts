import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalFileChange, SourceEntry } from '../../core/contracts.js';
import type { FailsafeError } from '../../core/errors.js';
import { readAhead } from '../../core/pipeline/read-ahead.js';

async function localEntries(sizes: number[], changes: LocalFileChange[] = []): Promise<SourceEntry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-ahead-'));
  const entries: SourceEntry[] = [];
  for (const [i, size] of sizes.entries()) {
    const path = join(dir, `f${i}`);
    await writeFile(path, Buffer.alloc(size, i));
    entries.push({ path: `f${i}`, type: 'file', size, mode: 0o644, mtime: new Date(0), localFile: { path, changed: (what) => void changes.push(what) } });
  }
  return entries;
}

async function* counted(entries: SourceEntry[], pulled: { count: number }): AsyncGenerator<SourceEntry> {
  for (const entry of entries) {
    pulled.count++;
    yield entry;
  }
}

describe('readAhead', () => {
  it('reads small local files before they are reached and leaves large ones to the writer', async () => {
    const sizes = [10, 20, 5000, 30, 0, 50, 60];
    const entries = await localEntries(sizes);
    const pulled = { count: 0 };
    const iterator = readAhead(counted(entries, pulled), { source: 's', files: 3, fileSize: 1000 });
    const first = (await iterator.next()).value!;
    // Holding three ahead: f1, f2 and f3 are listed (and f1, f3 being read) before f0 is handed out.
    expect(pulled.count).toBe(4);
    const got = [first];
    for await (const ahead of iterator) got.push(ahead);
    expect(got.map((a) => a.entry.path)).toEqual(sizes.map((_, i) => `f${i}`));
    expect(got.map((a) => a.body !== undefined)).toEqual(sizes.map((size) => size <= 1000));
    for (const [i, ahead] of got.entries()) {
      if (!ahead.body) continue;
      const body = await ahead.body;
      expect(body.bytes.equals(Buffer.alloc(sizes[i]!, i))).toBe(true);
      // The mtime differs from the entry's (epoch): reported, not fatal.
      expect(body.change).toBe('changed');
      body.release();
    }
  });

  it('a file that cannot be read fails when the writer reaches it, with E_SOURCE_READ naming source and path', async () => {
    const [good] = await localEntries([5]);
    const missing: SourceEntry = {
      path: 'gone',
      type: 'file',
      size: 3,
      mode: 0o644,
      mtime: new Date(0),
      localFile: { path: '/nonexistent/gone', changed: () => undefined },
    };
    const got = [];
    for await (const ahead of readAhead(counted([missing, good!], { count: 0 }), { source: 'docs', files: 4, fileSize: 1000 })) got.push(ahead);
    expect(got.map((a) => a.entry.path)).toEqual(['gone', 'f0']);
    const err = (await got[0]!.body!.catch((e: unknown) => e)) as FailsafeError;
    expect(err.code).toBe('E_SOURCE_READ');
    expect(err.message).toContain('source "docs": cannot read /nonexistent/gone: ENOENT');
    expect((await got[1]!.body!).length).toBe(5);
  });

  it('reuses its read buffers once released: memory stays files × fileSize', async () => {
    const entries = await localEntries(Array.from({ length: 40 }, () => 100));
    const buffers = new Set<ArrayBufferLike>();
    for await (const ahead of readAhead(counted(entries, { count: 0 }), { source: 's', files: 4, fileSize: 1000 })) {
      const body = await ahead.body!;
      buffers.add(body.bytes.buffer);
      body.release();
    }
    expect(buffers.size).toBeLessThanOrEqual(6);
  });
});
