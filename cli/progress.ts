/**
 * A progress bar on stderr when it is a terminal (cli-progress); nothing
 * otherwise. cli-progress is imported only when a bar is shown: cron, CI and
 * --json runs never load it.
 */
import type { BackupProgress } from '../core/backup/run-backup.js';
import { lazyDependency } from '../core/sdk/dependency.js';
import { formatBytes, type Io } from './output.js';

export interface Progress {
  update: (progress: BackupProgress) => void;
  stop: () => void;
}

const cliProgress = lazyDependency('cli-progress', 'the progress bar', () => import('cli-progress'));

export async function createProgress(io: Io, enabled: boolean): Promise<Progress> {
  if (!enabled || !io.stderr.isTTY || io.env.CI) return { update: () => undefined, stop: () => undefined };
  const { SingleBar } = await cliProgress();
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
