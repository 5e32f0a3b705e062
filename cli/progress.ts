/** A progress bar on stderr when it is a terminal (cli-progress); nothing otherwise. */
import { SingleBar } from 'cli-progress';
import type { BackupProgress } from '../core/backup.js';
import { formatBytes, type Io } from './output.js';

export interface Progress {
  update: (progress: BackupProgress) => void;
  stop: () => void;
}

export function createProgress(io: Io, enabled: boolean): Progress {
  if (!enabled || !io.stderr.isTTY || io.env.CI) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    stream: io.stderr,
    format: '{job} | {files} files | {read} read | {stored} stored | {file}',
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  let started = false;
  return {
    update: (p) => {
      const payload = { job: p.job, files: p.files, read: formatBytes(p.bytesRead), stored: formatBytes(p.storedBytes), file: (p.file ?? '').slice(-40) };
      if (!started) {
        bar.start(1, 0, payload);
        started = true;
      } else bar.update(0, payload);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
