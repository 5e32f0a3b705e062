/**
 * Restoring a snapshot: stream and verify every selected source into a
 * staging directory beside its destination (core/restore/stage.ts) and check the staged copy; only
 * then, after an optional confirmation and a safety snapshot of the live
 * data, swap everything into place under a journal (core/restore/swap.ts), check the
 * live result and roll back if that fails. A failure before the swap leaves
 * the live data untouched; after it, the live data is the old data again.
 */
import type { PreviousCopy } from './previous-copies.js';
import { dirname } from 'node:path';
import type { SourcePlugin } from '../contracts.js';
import { FailsafeError, fromStagingError, isAbortError, isFailsafeError } from '../errors.js';
import { flushTree } from '../fs/durable.js';
import { assertRoomFor, type SpaceNeed } from '../fs/free-space.js';
import { FileHasher } from '../read/file-hasher.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { plannedChanges, plannedEntries, planRestore, type PlannedChanges, type PlannedSource, type RestorePlugins } from './plan.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';
import { carryLeftOut } from './left-out.js';
import { removeEmptyFolders, stageAll, type MadeFolders, type StageOptions } from './stage.js';
import { RestoreJournal } from './journal.js';
import { Swap } from './swap.js';
import { pauseForTest } from '../testing/test-hooks.js';

export type { PlannedChanges, RestorePlugins } from './plan.js';
export { dropSpares } from '../threads/spare-threads.js';

/**
 * Starts the threads a restore with this parallelism will use (segment
 * workers and the hashing thread), to be taken by the run that follows;
 * `dropSpares` stops those it did not take.
 */
export function startRestoreThreads(parallelism: number): void {
  SegmentWorkers.startAhead(Math.max(1, parallelism));
  FileHasher.startAhead();
}

export interface RestoreRunOptions {
  /** Restore each source into `<to>/<source name>/` instead of where it came from. */
  to?: string;
  /** Only these sources (by name). */
  sources?: string[];
  /** Only entries matching these globs (paths inside a source). */
  paths?: string[];
  dryRun?: boolean;
  /** Keep replaced data as `<path>.pre-restore-<stamp>` (default true). */
  keepPrevious?: boolean;
  /**
   * Asked, with the plan, before anything is written when live data would be
   * replaced; resolving false cancels the restore (E_ABORTED), nothing changed.
   */
  confirm?: (plan: RestoreResult) => Promise<boolean>;
  /** Backs up the live data of these sources before the swap; resolves with the snapshot id. */
  safetySnapshot?: (plugins: SourcePlugin[]) => Promise<string>;
  /** A failing plugin check of a `--to` restore stops it, as for an in-place one (a drill), instead of a warning. */
  strictChecks?: boolean;
  /** Folder for the journal of a swap in progress (required unless dryRun). */
  journalDir?: string;
  parallelism?: number;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** Called as entries are written into staging, the bulk of a restore's time (at most every 100 ms, and at the end). */
  onProgress?: (progress: RestoreProgress) => void;
}

/** How far a restore's staging has come: entries and file bytes written, of those planned. */
export interface RestoreProgress {
  job: string;
  id: string;
  entries: number;
  totalEntries: number;
  bytes: number;
  totalBytes: number;
  /** The entry last written, as `<source>/<path>`. */
  file?: string;
}

export interface RestoredSource {
  name: string;
  type: string;
  /** Final paths written. */
  destinations: string[];
  entries: number;
  bytes: number;
  /** Paths that existed and were (or, in a dry run, would be) replaced. */
  replaced: string[];
  /** Where the replaced data was kept. */
  previous: string[];
  /** File by file, for a dry run or a confirmation. */
  changes?: PlannedChanges;
}

export type { PreviousCopy };

export interface RestoreResult {
  id: string;
  job: string;
  target: string;
  dryRun: boolean;
  sources: RestoredSource[];
  /** The pre-restore snapshot of the replaced live data, when one was taken. */
  safetySnapshot?: string;
  /** `.pre-restore-*` copies older than their job's `restore.keepPrevious`, removed once this restore succeeded. */
  expiredRemoved?: PreviousCopy[];
}

export async function runRestore(snapshot: OpenedSnapshot, plugins: RestorePlugins, options: RestoreRunOptions = {}): Promise<RestoreResult> {
  const plan = await planRestore(snapshot, plugins, options);
  const result = plannedResult(snapshot, plan, options.dryRun === true);
  const replacesLive = plan.some((p) => p.replaced.length > 0 || p.applies);
  if (options.dryRun || (replacesLive && options.confirm)) {
    for (const [i, planned] of plan.entries()) result.sources[i]!.changes = await plannedChanges(snapshot, planned);
  }
  if (options.dryRun) return result;
  if (replacesLive && options.confirm && !(await options.confirm(result))) {
    throw new FailsafeError('E_ABORTED', 'restore cancelled; nothing was changed');
  }
  if (!options.journalDir) throw new FailsafeError('E_USAGE', 'a restore needs a journal folder');

  const warn = options.warn ?? (() => undefined);
  await assertRoomFor(plan.map((planned) => spaceNeeded(snapshot, planned)));
  // Before the first folder is made: a restore killed from here on is found, and settled, by the next command.
  const journal = await RestoreJournal.open(options.journalDir, {
    snapshot: `${snapshot.manifest.job}/${snapshot.manifest.id}`,
    staging: plan.map((p) => p.staging),
    keepPrevious: options.keepPrevious ?? true,
  });
  const made: MadeFolders[] = [];
  let restored = false;
  try {
    await stageChecked(snapshot, plan, options, warn, made);
    await carryLeftOut(plan);
    await pauseForTest('staged', options.signal);
    for (const planned of plan) await planned.plugin.beforeSwap?.(planned.moves.map((m) => m.to));
    const live = plan.filter((p) => p.inPlace && (p.replaced.length > 0 || p.applies));
    if (live.length > 0 && options.safetySnapshot) {
      result.safetySnapshot = await options.safetySnapshot(live.map((p) => p.plugin));
      journal.record.safetySnapshot = result.safetySnapshot;
      await journal.write('staging', 'safety');
    }
    options.signal?.throwIfAborted();
    const swap = await swapIntoPlace(plan, journal, options, warn);
    for (const source of result.sources) source.previous = swap.previousOf(source.destinations);
    restored = true;
    return result;
  } catch (err) {
    if (isAbortError(err) && !(err instanceof FailsafeError)) throw new FailsafeError('E_ABORTED', 'restore was cancelled', { cause: err });
    throw err;
  } finally {
    // Rolled back or committed, the journal settles the same way: staging removed, the journal last.
    await journal.settle();
    // A failed restore leaves no trace: not even the folders made to hold its staging (a new --to folder).
    if (!restored) for (const folders of made) await removeEmptyFolders(folders);
  }
}

/** The result as planned: what each source restores and replaces, before anything is written. */
function plannedResult(snapshot: OpenedSnapshot, plan: PlannedSource[], dryRun: boolean): RestoreResult {
  const { manifest } = snapshot;
  return {
    id: manifest.id,
    job: manifest.job,
    target: snapshot.storage.targetName,
    dryRun,
    sources: plan.map((p) => ({
      name: p.source.name,
      type: p.source.type,
      destinations: p.moves.map((m) => m.to),
      entries: p.entries,
      bytes: p.bytes,
      replaced: p.replaced,
      previous: [],
    })),
  };
}

/** Stages every source, durably, and lets each plugin check its staged copy; the live data is not touched yet. */
async function stageChecked(
  snapshot: OpenedSnapshot,
  plan: PlannedSource[],
  options: RestoreRunOptions,
  warn: (m: string) => void,
  made: MadeFolders[],
): Promise<void> {
  try {
    await stageAll(snapshot, plan, { ...options, ...stagedProgress(snapshot, plan, options.onProgress) }, warn, made);
    // Plugins write without an fsync per file; the staged data is on disk before anything points at it.
    for (const planned of plan) if (planned.moves.length > 0) await flushTree(planned.staging);
  } catch (err) {
    throw fromStagingError(err, plan.map(destinationOf).join(', '));
  }
  for (const planned of plan) await advisory(planned, options, warn, () => planned.plugin.check?.(planned.staging));
}

/** RestoreProgress from each staged entry: reported at most every 100 ms, and always for the last one. */
function stagedProgress(snapshot: OpenedSnapshot, plan: PlannedSource[], report: RestoreRunOptions['onProgress']): Pick<StageOptions, 'onStaged'> {
  if (!report) return {};
  const { job, id } = snapshot.manifest;
  const progress: RestoreProgress = { job, id, entries: 0, totalEntries: 0, bytes: 0, totalBytes: 0 };
  for (const p of plan) {
    progress.totalEntries += p.entries;
    progress.totalBytes += p.bytes;
  }
  let last = 0;
  return {
    onStaged: (entry) => {
      progress.entries++;
      if (entry.type === 'file') progress.bytes += entry.size;
      progress.file = `${entry.source}/${entry.path}`;
      const now = Date.now();
      if (now - last < 100 && progress.entries < progress.totalEntries) return;
      last = now;
      report({ ...progress });
    },
  };
}

/**
 * A plugin's check blocks what replaces live data, and a drill (its proof), but not a restore `--to` a folder: that
 * is how one gets at the data whatever it holds (a config file Failsafe cannot parse), so a failed check is a warning.
 */
async function advisory(planned: PlannedSource, options: RestoreRunOptions, warn: (m: string) => void, check: () => Promise<void> | undefined): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (planned.inPlace || options.strictChecks || !isFailsafeError(err, 'E_CHECK_FAILED')) throw err;
    warn(`${err.message}; restored anyway, as a restore --to a folder does not block on checks`);
  }
}

/**
 * Swaps the staged data into place under a journal, checks it live and hands
 * it to the plugins that apply their own; any failure rolls the swap back.
 */
async function swapIntoPlace(plan: PlannedSource[], journal: RestoreJournal, options: RestoreRunOptions, warn: (m: string) => void): Promise<Swap> {
  const { record } = journal;
  const swap = await Swap.begin(
    plan.flatMap((p) => p.moves),
    { journalDir: dirname(journal.file), snapshot: record.snapshot, staging: record.staging, keepPrevious: record.keepPrevious, journal },
  );
  try {
    for (const planned of plan) await advisory(planned, options, warn, () => checkLive(planned));
    // Handing data to a plugin cannot be undone: it goes last, and a failure still rolls the swapped paths back.
    for (const planned of plan.filter((p) => p.applies)) {
      await planned.plugin.applyRestore!(planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
    }
  } catch (err) {
    await swap.rollback();
    throw err;
  }
  await swap.commit();
  return swap;
}

/** What staging a source takes: its selected files' bytes and an inode per entry. */
function spaceNeeded(snapshot: OpenedSnapshot, planned: PlannedSource): SpaceNeed {
  const entries = plannedEntries(snapshot.manifest, planned);
  const fileSizes = entries.filter((e) => e.type === 'file').map((e) => e.size);
  return { path: planned.staging, shownAs: destinationOf(planned), fileSizes, entries: entries.length };
}

/** Where a source's restore lands, as messages name it (its staging folder when it is handed to a plugin). */
function destinationOf(planned: PlannedSource): string {
  return planned.moves[0]?.to ?? planned.staging;
}

/** The plugin's check of the data where it now lives; a --to restore keeps the staged layout. */
async function checkLive(planned: PlannedSource): Promise<void> {
  if (!planned.inPlace) {
    await planned.plugin.check?.(planned.moves[0]!.to);
    return;
  }
  if (planned.wanted || planned.applies) return; // a partial restore: the live data mixes old and restored files; the staged check stands
  await planned.plugin.checkLive?.();
}
