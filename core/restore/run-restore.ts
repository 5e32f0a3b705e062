/**
 * Restoring a snapshot: stream and verify every selected source into a
 * staging directory beside its destination and check the staged copy; only
 * then, after an optional confirmation and a safety snapshot of the live
 * data, swap everything into place under a journal (core/restore/swap.ts), check the
 * live result and roll back if that fails. A failure before the swap leaves
 * the live data untouched; after it, the live data is the old data again.
 */
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RestoreEntry, SourcePlugin } from '../contracts.js';
import { FailsafeError, fromStagingError, isAbortError } from '../errors.js';
import { flushTree } from '../fs/durable.js';
import { assertRoomFor, type SpaceNeed } from '../fs/free-space.js';
import { makeFolder } from '../fs/make-folder.js';
import { archiveEntries, checksEveryFile, type ArchiveEntry } from '../read/archive.js';
import { FileHasher } from '../read/file-hasher.js';
import { segmentStream } from '../read/segments.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { plannedChanges, plannedEntries, planRestore, type PlannedChanges, type PlannedSource, type RestorePlugins } from './plan.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';
import { Swap } from './swap.js';

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
  /** Folder for the journal of a swap in progress (required unless dryRun). */
  journalDir?: string;
  parallelism?: number;
  signal?: AbortSignal;
  warn?: (message: string) => void;
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

export interface RestoreResult {
  id: string;
  job: string;
  target: string;
  dryRun: boolean;
  sources: RestoredSource[];
  /** The pre-restore snapshot of the replaced live data, when one was taken. */
  safetySnapshot?: string;
}

export async function runRestore(snapshot: OpenedSnapshot, plugins: RestorePlugins, options: RestoreRunOptions = {}): Promise<RestoreResult> {
  const { manifest } = snapshot;
  const plan = await planRestore(snapshot, plugins, options);
  const result: RestoreResult = {
    id: manifest.id,
    job: manifest.job,
    target: snapshot.storage.targetName,
    dryRun: options.dryRun === true,
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
  const made: MadeFolders[] = [];
  let restored = false;
  try {
    try {
      await stageAll(snapshot, plan, options, warn, made);
      // Plugins write without an fsync per file; the staged data is on disk before anything points at it.
      for (const planned of plan) if (planned.moves.length > 0) await flushTree(planned.staging);
    } catch (err) {
      throw fromStagingError(err, plan.map(destinationOf).join(', '));
    }
    for (const planned of plan) await planned.plugin.check?.(planned.staging);
    for (const planned of plan) await planned.plugin.beforeSwap?.(planned.moves.map((m) => m.to));
    const live = plan.filter((p) => p.inPlace && (p.replaced.length > 0 || p.applies));
    if (live.length > 0 && options.safetySnapshot) result.safetySnapshot = await options.safetySnapshot(live.map((p) => p.plugin));
    const swap = await Swap.begin(
      plan.flatMap((p) => p.moves),
      {
        journalDir: options.journalDir,
        snapshot: `${manifest.job}/${manifest.id}`,
        staging: plan.map((p) => p.staging),
        keepPrevious: options.keepPrevious ?? true,
      },
    );
    try {
      for (const planned of plan) await checkLive(planned);
      // Handing data to a plugin cannot be undone: it goes last, and a failure still rolls the swapped paths back.
      for (const planned of plan.filter((p) => p.applies)) {
        await planned.plugin.applyRestore!(planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
      }
    } catch (err) {
      await swap.rollback();
      throw err;
    }
    await swap.commit();
    for (const source of result.sources) source.previous = swap.previousOf(source.destinations);
    restored = true;
    return result;
  } catch (err) {
    if (isAbortError(err) && !(err instanceof FailsafeError)) throw new FailsafeError('E_ABORTED', 'restore was cancelled', { cause: err });
    throw err;
  } finally {
    for (const planned of plan) await rm(planned.staging, { recursive: true, force: true });
    // A failed restore leaves no trace: not even the folders made to hold its staging (a new --to folder).
    if (!restored) for (const folders of made) await removeEmptyFolders(folders);
  }
}

/** Folders a restore made: `top` (the first that did not exist) down to `bottom`. */
interface MadeFolders {
  top: string;
  bottom: string;
}

/** Removes `bottom` and its parents up to `top` while they are empty; a folder something else wrote into stays. */
async function removeEmptyFolders({ top, bottom }: MadeFolders): Promise<void> {
  for (let at = bottom; ; at = dirname(at)) {
    if (
      !(await rmdir(at).then(
        () => true,
        () => false,
      ))
    )
      return;
    if (at === top || dirname(at) === at) return;
  }
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

/** Streams the selected sources' entries out of the archive into their staging directories. */
async function stageAll(
  snapshot: OpenedSnapshot,
  plan: PlannedSource[],
  options: RestoreRunOptions,
  warn: (m: string) => void,
  made: MadeFolders[],
): Promise<void> {
  const { manifest } = snapshot;
  const wanted = new Set(plan.map((p) => p.source.name));
  const first = manifest.entries.find((e) => wanted.has(e.source));
  const what = `${snapshot.storage.targetName}:${manifest.job}/${manifest.id}`;
  const iterator = first
    ? archiveEntries(
        segmentStream(snapshot, {
          from: first.segment,
          skip: first.offset,
          ahead: options.parallelism ?? 2,
          contentChecked: checksEveryFile(manifest.entries),
          signal: options.signal,
        }),
        manifest.entries,
        what,
        { hashThread: true },
      )
    : undefined;
  let pending: ArchiveEntry | undefined;
  const advance = async (): Promise<void> => {
    const next = iterator ? await iterator.next() : { done: true as const, value: undefined };
    pending = next.done ? undefined : next.value;
  };
  try {
    await advance();
    for (const planned of plan) {
      const name = planned.source.name;
      // Skip entries of sources not being restored that sit between selected ones.
      while (pending && pending.source !== name && !wanted.has(pending.source)) await advance();
      let count = 0;
      async function* entriesOfSource(): AsyncGenerator<RestoreEntry> {
        while (pending && pending.source === name) {
          count++;
          // Entries outside --path still stream past (and are checked), unwritten.
          if (!planned.wanted || planned.wanted.has(pending.path)) yield pending;
          await advance();
        }
      }
      const top = await makeFolder(dirname(planned.staging));
      if (top !== undefined) made.push({ top, bottom: dirname(planned.staging) });
      await mkdir(planned.staging);
      await planned.plugin.restore(entriesOfSource(), planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
      while (pending && pending.source === name) {
        count++;
        await advance();
      }
      if (count !== planned.source.entries) {
        throw new FailsafeError('E_CORRUPT', `${what}: source "${name}" has ${count} entries in the archive, the manifest lists ${planned.source.entries}`);
      }
    }
  } finally {
    await iterator?.return(undefined);
  }
}
