import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { SourceEntry } from '../../core/contracts.js';
import { readAhead } from '../../core/pipeline/read-ahead.js';

function entries(sizes: number[], opened: string[]): SourceEntry[] {
  return sizes.map((size, i) => ({
    path: `f${i}`,
    type: 'file',
    size,
    mode: 0o644,
    mtime: new Date(0),
    open: () => {
      opened.push(`f${i}`);
      return Readable.from([Buffer.alloc(size, i)]);
    },
  }));
}

async function body(entry: SourceEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry.open!()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('readAhead', () => {
  it('opens small files before they are reached, each once, and leaves large ones to their consumer', async () => {
    const opened: string[] = [];
    const sizes = [10, 20, 5000, 30, 40, 50, 60];
    const iterator = readAhead(Readable.from(entries(sizes, opened)), { files: 3, fileSize: 1000 });
    const first = (await iterator.next()).value as SourceEntry;
    // Holding three ahead: f1 and f3 already opened, the large f2 not.
    expect(opened).toEqual(['f0', 'f1', 'f3']);
    const got = [first];
    for await (const entry of iterator) got.push(entry);
    expect(got.map((e) => e.path)).toEqual(sizes.map((_, i) => `f${i}`));
    for (const [i, entry] of got.entries()) expect((await body(entry)).equals(Buffer.alloc(sizes[i]!, i))).toBe(true);
    expect([...opened].sort()).toEqual(sizes.map((_, i) => `f${i}`));
  });

  it('a file that fails while read ahead fails when its body is read, not before', async () => {
    const failing: SourceEntry = { path: 'bad', type: 'file', size: 3, mode: 0o644, mtime: new Date(0), open: () => Readable.from((async function* () { throw new Error('EIO'); })()) };
    const got: SourceEntry[] = [];
    for await (const entry of readAhead(Readable.from([failing, ...entries([1], [])]), { files: 4, fileSize: 1000 })) got.push(entry);
    expect(got.map((e) => e.path)).toEqual(['bad', 'f0']);
    await expect(body(got[0]!)).rejects.toThrow('EIO');
    expect((await body(got[1]!)).length).toBe(1);
  });
});
