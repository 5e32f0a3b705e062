/** `--progress json` pacing, on a fake clock: what a script reading the lines sees, whatever the machine's speed. */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackupProgress } from '../../core/backup/types.js';
import { backupProgress } from '../../cli/progress.js';

function capture(): { io: Parameters<typeof backupProgress>[0]; lines: () => BackupProgress[] } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const io = { stdout: new PassThrough(), stderr, env: {} };
  return {
    io,
    lines: () =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as BackupProgress),
  };
}

const event = (bytesRead: number, storedBytes: number, job = 'app'): BackupProgress => ({
  job,
  targets: ['disk'],
  files: 1,
  bytesRead,
  storedBytes,
  segments: 0,
  totalFiles: 1,
  totalBytes: 100,
});

describe('backup --progress json', () => {
  afterEach(() => vi.useRealTimers());

  it('says reading done at once, paces what the storing adds after it, and ends on the final figures', async () => {
    vi.useFakeTimers({ now: 1000, toFake: ['Date'] });
    const { io, lines } = capture();
    const progress = await backupProgress(io, { progress: 'json' });
    progress.update(event(10, 0)); // the first line
    progress.update(event(50, 0)); // held: within 200 ms
    progress.update(event(100, 10)); // reading done: at once
    for (let stored = 20; stored <= 90; stored += 10) progress.update(event(100, stored)); // held, same instant
    vi.setSystemTime(1250);
    progress.update(event(100, 95)); // 250 ms on: written
    progress.update(event(100, 100)); // held
    progress.update(event(100, 100, 'db')); // another job's reading done: at once
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines().map((e) => [e.job, e.bytesRead, e.storedBytes])).toEqual([
      ['app', 10, 0],
      ['app', 100, 10],
      ['app', 100, 95],
      ['db', 100, 100],
    ]);
  });

  it('writes the newest held event when the run stops', async () => {
    vi.useFakeTimers({ now: 1000, toFake: ['Date'] });
    const { io, lines } = capture();
    const progress = await backupProgress(io, { progress: 'json' });
    progress.update(event(100, 10));
    progress.update(event(100, 60));
    progress.update(event(100, 100));
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines().map((e) => e.storedBytes)).toEqual([10, 100]);
  });
});
