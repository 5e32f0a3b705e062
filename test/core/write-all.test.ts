import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WRITE_PIECE, writeAll } from '../../core/fs/atomic.js';

describe('writeAll', () => {
  it('writes a buffer larger than a piece in pieces, after what the file already holds, through short writes', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'failsafe-write-all-')), 'file');
    const handle = await open(path, 'w');
    const asked: number[] = [];
    const write = handle.write.bind(handle) as (b: Uint8Array, o: number, l: number) => Promise<{ bytesWritten: number }>;
    // The kernel may take fewer bytes than asked: every third write here takes only half.
    Object.assign(handle, {
      write: (bytes: Uint8Array, offset: number, length: number) => {
        asked.push(length);
        return write(bytes, offset, asked.length % 3 === 0 ? Math.ceil(length / 2) : length);
      },
    });
    const head = randomBytes(1000);
    const body = randomBytes(3 * WRITE_PIECE + 12345);
    try {
      await writeAll(handle, head);
      await writeAll(handle, body);
    } finally {
      await handle.close();
    }
    expect(Buffer.compare(await readFile(path), Buffer.concat([head, body]))).toBe(0);
    expect(Math.max(...asked)).toBe(WRITE_PIECE);
    expect(asked.length).toBeGreaterThan(4);
  });
});
