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
  /** Shows `text` (waiting for the target…) in place of the file until bytes are stored again. */
  waiting: (text: string) => void;
  stop: () => void;
}

const cliProgress = lazyDependency('cli-progress', 'the progress bar', () => import('cli-progress'));

export async function createProgress(io: Io, enabled: boolean): Promise<Progress> {
  if (!enabled || !io.stderr.isTTY || io.env.CI) return { update: () => undefined, waiting: () => undefined, stop: () => undefined };
  const { SingleBar } = await cliProgress();
  const bar = new SingleBar({
    stream: io.stderr,
    format: '{job} | {files} files | {read} read | {stored} stored | {file}',
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  let started = false;
  let last: BackupProgress | undefined;
  /** The waiting text, until more than `storedBytes` are stored. */
  let waiting: { text: string; storedBytes: number } | undefined;
  const show = (p: BackupProgress): void => {
    if (waiting && p.storedBytes > waiting.storedBytes) waiting = undefined;
    const file = waiting?.text ?? (p.file ?? '').slice(-40);
    const payload = { job: p.job, files: p.files, read: formatBytes(p.bytesRead), stored: formatBytes(p.storedBytes), file };
    if (!started) {
      bar.start(1, 0, payload);
      started = true;
    } else bar.update(0, payload);
  };
  return {
    update: (p) => {
      last = p;
      show(p);
    },
    waiting: (text) => {
      waiting = { text, storedBytes: last?.storedBytes ?? 0 };
      if (last) show(last);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
