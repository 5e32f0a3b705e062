/**
 * Progress of a long command, on stderr: a bar (cli-progress) when stderr is a terminal, nothing when piped, in CI
 * or with --json, and with `--progress json` one JSON object per line for scripts. cli-progress is imported only
 * when a bar is shown: cron, CI and --json runs never load it.
 */
import { Option, type Command } from 'commander';
import type { BackupProgress } from '../core/backup/run-backup.js';
import type { RestoreProgress } from '../core/restore/run-restore.js';
import type { VerifyProgress } from '../api/operations/inspect.js';
import type { DiscardProgress } from '../api/options.js';
import type { PruneProgress } from '../core/maintenance/prune.js';
import { lazyDependency } from '../core/sdk/dependency.js';
import { count } from '../core/util/count.js';
import { formatBytes, type Io } from './output.js';

export interface Progress<T> {
  /** Something is shown: without it a caller spares the work that only feeds the display (a backup's totals walk). */
  shown: boolean;
  update: (progress: T) => void;
  /** Shows `text` (waiting for the target…) in place of the file until more bytes are stored. */
  waiting: (text: string) => void;
  stop: () => void;
}

export type ProgressMode = 'auto' | 'json' | 'none';

const cliProgress = lazyDependency('cli-progress', 'the progress bar', () => import('cli-progress'));
const JSON_INTERVAL_MS = 200;

export function withProgressOption(command: Command): Command {
  return command.addOption(
    new Option('--progress <mode>', 'auto: a bar on a terminal, nothing otherwise; json: one JSON object per line on stderr; none')
      .choices(['auto', 'json', 'none'])
      .default('auto'),
  );
}

/**
 * What a run shows when it draws no bar: JSON lines with `--progress json`, else nothing when `auto` finds no
 * terminal (or CI, or --json: stdout is one document then); `undefined` when a bar is to be drawn.
 */
function withoutBar<T extends object>(
  io: Io,
  options: { progress?: ProgressMode; json?: boolean },
  operation: string,
  isLast: (p: T) => boolean,
): Progress<T> | undefined {
  if (options.progress === 'json') return jsonLines<T>(io, operation, isLast);
  if (options.progress === 'none' || options.json || !io.stderr.isTTY || io.env.CI) return silent;
  return undefined;
}

/**
 * `{"progress":"restore",…}` lines, at most every 200 ms. The first event that says a job (or target) is done passes
 * at once; later ones (a backup storing what it has read) wait like any other, and the newest held back is written
 * when the run stops, so the last line has the final figures.
 */
function jsonLines<T extends object>(io: Io, operation: string, isLast: (p: T) => boolean): Progress<T> {
  let last = 0;
  let held: T | undefined;
  const finished = new Set<string>();
  const write = (p: T): void => {
    last = Date.now();
    held = undefined;
    io.stderr.write(`${JSON.stringify({ progress: operation, ...p })}\n`);
  };
  return {
    shown: true,
    update: (p) => {
      const { job, target } = p as { job?: unknown; target?: unknown };
      const key = `${String(job)}\0${String(target)}`;
      const first = isLast(p) && !finished.has(key);
      if (first) finished.add(key);
      if (first || Date.now() - last >= JSON_INTERVAL_MS) write(p);
      else held = p;
    },
    waiting: (text) => void io.stderr.write(`${JSON.stringify({ progress: operation, waiting: text })}\n`),
    stop: () => {
      if (held) write(held);
    },
  };
}

const perSecond = (bytes: number, since: number): string => formatBytes(Math.round(bytes / Math.max(0.001, (Date.now() - since) / 1000)));

/** One line on stderr, redrawn at most 5 times a second, gone when done. */
async function newBar(io: Io, format: string): Promise<InstanceType<Awaited<ReturnType<typeof cliProgress>>['SingleBar']>> {
  const { SingleBar } = await cliProgress();
  return new SingleBar({ stream: io.stderr, format, hideCursor: true, clearOnComplete: true, fps: 5 });
}

type Bar = Awaited<ReturnType<typeof newBar>>;

/** Bars one after another, one per `id` (a drill's snapshots, a prune's steps): a new id ends the bar shown and starts its own. */
function barsById(bar: Bar): { show: (id: string, value: number, total: number, payload: (since: number) => object) => void; stop: () => void } {
  let started: { at: number; id: string } | undefined;
  return {
    show: (id, value, total, payload) => {
      const fresh = started?.id !== id;
      if (fresh && started) bar.stop();
      if (fresh) started = { at: Date.now(), id };
      if (fresh) bar.start(Math.max(1, total), value, payload(started!.at));
      else bar.update(value, payload(started!.at));
    },
    stop: () => void (started && bar.stop()),
  };
}

const silent = { shown: false, update: () => undefined, waiting: () => undefined, stop: () => undefined };

/** `42s`, `3m 04s`, `2h 05m`: what is left at the rate so far. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** A backup's percentage, bar and ETA once its totals are known (`percent` empty before: a bytes count and a rate alone). */
function backupShare(p: BackupProgress, started: number): { percent: string; of: string; left: string } {
  if (p.totalBytes === undefined) return { percent: '', of: '', left: '' };
  const share = p.totalBytes === 0 ? 1 : Math.min(1, p.bytesRead / p.totalBytes);
  // Drawn as cli-progress draws the other bars (40 columns of = and -): this one's payload is ours, as its total may come late.
  const filled = Math.round(share * 40);
  const seconds = (Date.now() - started) / 1000;
  const remaining = p.bytesRead > 0 ? ((p.totalBytes - p.bytesRead) * seconds) / p.bytesRead : undefined;
  return {
    percent: `${'='.repeat(filled)}${'-'.repeat(40 - filled)} ${Math.floor(share * 100)}% | `,
    of: ` of ${formatBytes(p.totalBytes)}`,
    left: remaining === undefined ? ' | ETA -' : ` | ETA ${formatEta(remaining)}`,
  };
}

export async function backupProgress(io: Io, options: { progress?: ProgressMode; json?: boolean }): Promise<Progress<BackupProgress>> {
  // Reading done (bytes at their total) is never held back: the last line of a run says 100%.
  const plain = withoutBar<BackupProgress>(io, options, 'backup', (p) => p.totalBytes !== undefined && p.bytesRead === p.totalBytes);
  if (plain) return plain;
  const bar = await newBar(io, '{job} {percent}{files} | {read}{of} read | {stored} stored | {rate}/s{left} | {file}');
  const started = Date.now();
  let running = false;
  let last: BackupProgress | undefined;
  /** The waiting text, until more than `storedBytes` are stored. */
  let waiting: { text: string; storedBytes: number } | undefined;
  const show = (p: BackupProgress): void => {
    if (waiting && p.storedBytes > waiting.storedBytes) waiting = undefined;
    const payload = {
      job: p.job,
      ...backupShare(p, started),
      files: count(p.files, 'file'),
      read: formatBytes(p.bytesRead),
      stored: formatBytes(p.storedBytes),
      rate: perSecond(p.bytesRead, started),
      file: waiting?.text ?? (p.file ?? '').slice(-40),
    };
    if (!running) bar.start(1, 0, payload);
    else bar.update(0, payload);
    running = true;
  };
  return {
    shown: true,
    update: (p) => {
      last = p;
      show(p);
    },
    waiting: (text) => {
      waiting = { text, storedBytes: last?.storedBytes ?? 0 };
      if (last) show(last);
    },
    stop: () => void (running && bar.stop()),
  };
}

/** What a bar of bytes read shows: one bar per snapshot (`id`), `file` when known. */
interface BytesOf {
  id: string;
  job: string;
  bytes: number;
  totalBytes: number;
  file?: string;
}

/** Percentage of the bytes, rate and ETA on a terminal; `{"progress":"<operation>",…}` lines with `--progress json`. */
async function bytesProgress<T extends BytesOf>(
  io: Io,
  options: { progress?: ProgressMode; json?: boolean },
  operation: string,
  isLast: (p: T) => boolean,
): Promise<Progress<T>> {
  const plain = withoutBar<T>(io, options, operation, isLast);
  if (plain) return plain;
  const bars = barsById(await newBar(io, '{job} {bar} {percentage}% | {done} of {all} | {rate}/s | ETA {eta_formatted} | {file}'));
  return {
    shown: true,
    // A drill restores (and verify --all reads) one snapshot after another: each gets a bar of its own.
    update: (p) =>
      bars.show(p.id, p.bytes, p.totalBytes, (since) => ({
        job: p.job,
        done: formatBytes(p.bytes),
        all: formatBytes(p.totalBytes),
        rate: perSecond(p.bytes, since),
        file: (p.file ?? '').slice(-40),
      })),
    // Reads are retried below the bar; its bytes show the stall.
    waiting: () => undefined,
    stop: bars.stop,
  };
}

/** A restore's (or a drill's) staging. */
export function restoreProgress(io: Io, options: { progress?: ProgressMode; json?: boolean }): Promise<Progress<RestoreProgress>> {
  return bytesProgress<RestoreProgress>(io, options, 'restore', (p) => p.entries === p.totalEntries);
}

/** `verify --read-data`: the file bytes of each snapshot read and checked. */
export function verifyProgress(io: Io, options: { progress?: ProgressMode; json?: boolean }): Promise<Progress<VerifyProgress>> {
  return bytesProgress<VerifyProgress>(io, options, 'verify', (p) => p.bytes === p.totalBytes);
}

/** What a bar of counted steps shows: one bar per `id`, `done` of `total` things, and bytes when known. */
interface CountOf {
  id: string;
  label: string;
  done: number;
  total: number;
  unit: string;
  bytes?: number;
  totalBytes?: number;
}

/** Percentage, count, rate and ETA on a terminal for operations counted in steps (prune, recover); JSON lines as the others. */
async function countProgress<T extends { done: number; total: number }>(
  io: Io,
  options: { progress?: ProgressMode; json?: boolean },
  operation: string,
  describe: (p: T) => CountOf,
): Promise<Progress<T>> {
  const plain = withoutBar<T>(io, options, operation, (p) => p.done === p.total);
  if (plain) return plain;
  const bars = barsById(await newBar(io, '{label} {bar} {percentage}% | {done} of {all} {unit}{bytes} | {rate}/s | ETA {eta_formatted}'));
  return {
    shown: true,
    update: (p) => {
      const c = describe(p);
      const bytes = c.totalBytes === undefined ? '' : `, ${formatBytes(c.bytes ?? 0)} of ${formatBytes(c.totalBytes)}`;
      bars.show(c.id, c.done, c.total, (since) => {
        const rate = (c.done / Math.max(0.001, (Date.now() - since) / 1000)).toFixed(1);
        return { label: c.label, done: c.done, all: c.total, unit: c.unit, bytes, rate };
      });
    },
    waiting: () => undefined,
    stop: bars.stop,
  };
}

/** Prune's steps: per job and target the snapshots decided, per deduplicating target the snapshots read and the packs deleted. */
export function pruneProgress(io: Io, options: { progress?: ProgressMode; json?: boolean }): Promise<Progress<PruneProgress>> {
  const units = { snapshots: 'snapshots', mark: 'snapshots read', delete: 'packs deleted' } as const;
  return countProgress<PruneProgress>(io, options, 'prune', (p) => {
    const where = `${p.job ? `${p.job} @ ` : ''}${p.target}`;
    return { id: `${p.step} ${where}`, label: `${p.step} ${where}`, unit: units[p.step], ...p };
  });
}

/** `recover --discard`: the objects of each interrupted backup removed. */
export function discardProgress(io: Io, options: { progress?: ProgressMode; json?: boolean }): Promise<Progress<DiscardProgress>> {
  return countProgress<DiscardProgress>(io, options, 'recover', (p) => ({ id: p.operationId, label: p.operationId, unit: 'objects removed', ...p }));
}
