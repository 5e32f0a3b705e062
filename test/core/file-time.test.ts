import { stat, utimes, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileTime } from '../../core/fs/file-time.js';

describe('fileTime', () => {
  it('sets a file to the exact millisecond, never earlier, across a second and at its edges', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'failsafe-time-')), 'f');
    await writeFile(file, '');
    const base = Date.UTC(2026, 11, 2, 12, 0, 0);
    const wrong: number[] = [];
    for (let ms = 0; ms < 1000; ms += 7) {
      const date = new Date(base + ms);
      await utimes(file, fileTime(date), fileTime(date));
      if (Math.floor((await stat(file)).mtimeMs) !== base + ms) wrong.push(ms);
    }
    for (const ms of [999, 1, 0]) {
      const date = new Date(base + ms);
      await utimes(file, fileTime(date), fileTime(date));
      if (Math.floor((await stat(file)).mtimeMs) !== base + ms) wrong.push(ms);
    }
    expect(wrong).toEqual([]);
  });
});
