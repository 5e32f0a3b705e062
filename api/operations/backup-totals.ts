/**
 * The totals of a backup's progress. A backup learns what it reads as it walks, so a percentage needs a second walk
 * beside it, as restic does: the sources' entries counted as `backup --dry-run` counts them, which stats and reads
 * nothing. It runs only for a caller that watches the progress, stops with the run (or its signal), and leaves out a
 * source that needs `prepare` (a database's copy, which the backup makes): such a source's bytes join the total as
 * they are read. A directory walk stats a bounded number of entries at a time (plugins/directory), so the walk costs
 * the backup a share of the disk's metadata reads, none of its data reads.
 */
import type { BackupProgress } from '../../core/backup/types.js';
import type { JobConfig } from '../../core/config/load.js';
import type { SourcePlugin } from '../../core/contracts.js';
import { pickDefined } from '../../core/util/defined.js';
import type { Deployment } from '../container.js';
import type { BackupOptions } from '../options.js';
import { countEntries } from './backup-plan.js';

export interface TotalsWatch {
  /** Passes each event on with `totalFiles` and `totalBytes` once the walk has counted them. */
  update(progress: BackupProgress): void;
  /** A run (one target's, for a deduplicating repository) completed: its last event again, at its total. */
  completed(): void;
  /** The job is over: the walk stops if it still runs. */
  stop(): void;
  /** Settles when the walk ends: true once the totals are known, false when it was stopped or failed. */
  walked: Promise<boolean>;
}

/**
 * Runs `run` with a progress that carries totals when the caller watches it (`onProgress`, unless `totals: false`);
 * nobody watching (a daemon, a piped command), no walk.
 */
export async function withTotals<T>(
  deployment: Deployment,
  job: JobConfig,
  options: BackupOptions,
  onProgress: ((progress: BackupProgress) => void) | undefined,
  run: (progress: Pick<TotalsWatch, 'update' | 'completed'>) => Promise<T>,
): Promise<T> {
  if (!onProgress || !options.onProgress || options.totals === false) return run({ update: (p) => onProgress?.(p), completed: () => undefined });
  const sources = deployment.sources(job, pickDefined({ exclude: options.exclude, include: options.include }));
  const hardLinks = deployment.config.repository.format !== 2;
  const watch = watchTotals(sources, onProgress, { hardLinks, ...pickDefined({ signal: options.signal }) });
  try {
    return await run(watch);
  } finally {
    watch.stop();
  }
}

interface Counted {
  files: number;
  bytes: number;
}

/** Walks `sources` (fresh instances: the backup's own keep their state) and watches the runs' progress. */
export function watchTotals(
  sources: SourcePlugin[],
  onProgress: (progress: BackupProgress) => void,
  options: { signal?: AbortSignal; hardLinks: boolean },
): TotalsWatch {
  const walk = new AbortController();
  const stopWalk = (): void => walk.abort();
  if (options.signal?.aborted) stopWalk();
  else options.signal?.addEventListener('abort', stopWalk, { once: true });
  const prepared = new Set(sources.filter((s) => s.prepare).map((s) => s.name));
  let counted: Counted | undefined;
  let last: BackupProgress | undefined;
  /** Read so far from the sources the walk leaves out, in the current run. */
  let unwalked: Counted = { files: 0, bytes: 0 };
  const withTotals = (p: BackupProgress): BackupProgress => {
    if (!counted) return p;
    // A file that grew since the walk must not push the percentage past 100.
    const totalFiles = Math.max(p.files, counted.files + unwalked.files);
    return { ...p, totalFiles, totalBytes: Math.max(p.bytesRead, counted.bytes + unwalked.bytes) };
  };
  const walked = countSources(sources, prepared, walk.signal, options.hardLinks).then(
    (result) => {
      counted = result;
      if (last) onProgress(withTotals(last));
      return true;
    },
    () => false, // cancelled: no totals, the line shows no percentage
  );
  return {
    walked,
    update: (p) => {
      // A deduplicating job runs once per target, each counting from zero.
      if (last && last.targets.join('\n') !== p.targets.join('\n')) last = undefined;
      if (!last) unwalked = { files: 0, bytes: 0 };
      const source = p.file?.split('/')[0];
      if (source !== undefined && prepared.has(source)) {
        unwalked.files += p.files - (last?.files ?? 0);
        unwalked.bytes += p.bytesRead - (last?.bytesRead ?? 0);
      }
      last = { ...p, targets: [...p.targets] };
      onProgress(withTotals(p));
    },
    completed: () => {
      if (last) onProgress({ ...last, totalFiles: last.files, totalBytes: last.bytesRead });
      last = undefined;
    },
    stop: () => {
      options.signal?.removeEventListener('abort', stopWalk);
      stopWalk();
    },
  };
}

async function countSources(sources: SourcePlugin[], prepared: Set<string>, signal: AbortSignal, hardLinks: boolean): Promise<Counted> {
  const read = { entries: 0, files: 0, bytes: 0 };
  // Its warnings (a skipped socket) are the backup's to give, once.
  const context = { signal, warn: (): void => undefined };
  for (const source of sources) {
    if (prepared.has(source.name)) continue;
    // A source that cannot be walked fails the backup too, or is left out of it (onSourceError: continue): the others still count.
    await countEntries(source, context, read, hardLinks).catch((err: unknown) => {
      if (signal.aborted) throw err;
    });
  }
  return { files: read.files, bytes: read.bytes };
}
