/**
 * The journal of a restore: an intent log in `.failsafe/restore-journal/`
 * beside the configuration, so that a restore killed at any instant leaves
 * nothing the next command cannot find and settle (docs/restore.md).
 *
 * - `staging`: written before the first staging folder is made. Nothing live
 *   has changed; settling removes the staging folders.
 * - `swapping`: rewritten, with every move, before the first rename. Settling
 *   rolls back: the post-swap checks (`checkLive`, a plugin's own apply) have
 *   not passed, so the new data was never proven live; the old data was.
 * - `committed`: the new data stands; settling only finishes the clean-up.
 *
 * Settling reads the filesystem, not a step counter, and removes the journal
 * last, so a second crash while settling is settled again the same way.
 */
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { fsPath } from '../fs/name-bytes.js';
import { join } from 'node:path';
import { errnoOf, FailsafeError, fromNodeError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { pauseForTest } from '../testing/test-hooks.js';

/** A move as the journal records it: where the live data goes aside, and whether there was any. */
export interface JournalMove {
  from: string;
  to: string;
  aside: string;
  hadLive: boolean;
  companions: { path: string; aside: string }[];
}

export type JournalState = 'staging' | 'swapping' | 'committed';

export interface JournalRecord {
  version: 1;
  state: JournalState;
  startedAt: string;
  snapshot: string;
  keepPrevious: boolean;
  staging: string[];
  moves: JournalMove[];
  /** The pre-restore snapshot of the live data, once taken: kept whatever the outcome, as it holds the data as it was. */
  safetySnapshot?: string;
  /** Set (with the state back to `staging`) once settling has rolled the swap back, before the staging goes. */
  rolledBack?: true;
}

export function restoreStamp(now = new Date()): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export async function exists(path: string): Promise<boolean> {
  return lstat(fsPath(path)).then(
    () => true,
    () => false,
  );
}

/** Journals of restores running in this process: never settled from under them (the API may restore and back up at once). */
const running = new Set<string>();

export interface JournalStart {
  /** `job/id` of the snapshot, for messages about an interrupted restore. */
  snapshot: string;
  staging: string[];
  keepPrevious: boolean;
}

export class RestoreJournal {
  readonly file: string;
  readonly record: JournalRecord;

  private constructor(file: string, record: JournalRecord) {
    this.file = file;
    this.record = record;
  }

  /** Writes the journal in state `staging`, before anything is written for the restore. */
  static async open(dir: string, start: JournalStart): Promise<RestoreJournal> {
    const record: JournalRecord = { version: 1, state: 'staging', startedAt: new Date().toISOString(), moves: [], ...start };
    const journal = new RestoreJournal(join(dir, `restore-${restoreStamp()}-${process.pid}.json`), record);
    running.add(journal.file);
    try {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(journal.file, Buffer.from(JSON.stringify(record)));
    } catch (err) {
      running.delete(journal.file);
      throw fromNodeError(err, `cannot write the restore journal in ${dir} (nothing was changed)`);
    }
    await pauseForTest('journal:staging');
    return journal;
  }

  /** Records a new state, or the safety snapshot, durably (an atomic rename, then the folder's fsync). */
  async write(state: JournalState, point: 'safety' | JournalState = state): Promise<void> {
    this.record.state = state;
    await writeFileAtomic(this.file, Buffer.from(JSON.stringify(this.record)));
    await pauseForTest(`journal:${point}`);
  }

  /** Rolls back what a swap did (unless committed) and cleans up; the journal goes last. Once only: undoing twice would move live data. */
  async settle(): Promise<void> {
    if (!running.has(this.file)) return;
    try {
      await settleRecord(this.file, this.record);
    } finally {
      running.delete(this.file);
    }
  }
}

async function settleRecord(file: string, record: JournalRecord): Promise<void> {
  if (record.state === 'swapping') {
    await undo(record);
    // Recorded before the staging goes: settled again, the staged copies' absence must not read as renames still to undo.
    Object.assign(record, { state: 'staging', rolledBack: true });
    await writeFileAtomic(file, Buffer.from(JSON.stringify(record)));
  }
  if (record.state === 'committed' && !record.keepPrevious) {
    for (const move of record.moves) {
      if (move.hadLive) await rm(fsPath(move.aside), { recursive: true, force: true });
      for (const companion of move.companions) await rm(fsPath(companion.aside), { force: true });
    }
  }
  for (const dir of record.staging) await rm(fsPath(dir), { recursive: true, force: true });
  await pauseForTest('settle:cleaned');
  await rm(file, { force: true });
}

/** Undoes each move as far as the filesystem shows it was made, last first. */
async function undo(record: JournalRecord): Promise<void> {
  for (const move of [...record.moves].reverse()) {
    if (!(await exists(move.from)) && (await exists(move.to))) {
      await rename(fsPath(move.to), fsPath(move.from));
      await pauseForTest('undo');
    }
    if (move.hadLive && !(await exists(move.to)) && (await exists(move.aside))) {
      await rename(fsPath(move.aside), fsPath(move.to));
      await pauseForTest('undo');
    }
    for (const companion of [...move.companions].reverse()) {
      if (!(await exists(companion.path)) && (await exists(companion.aside))) await rename(fsPath(companion.aside), fsPath(companion.path));
    }
  }
}

/** What settling an interrupted restore does: by its journal's state (see the top of this file). */
export type SettleAction = 'remove-staging' | 'roll-back' | 'finish';

const ACTION: Record<JournalState, SettleAction> = { staging: 'remove-staging', swapping: 'roll-back', committed: 'finish' };

/** A restore journal found in the folder, read but not acted on. */
export interface UnsettledRestore {
  journal: string;
  /** Its process is still running: it is left alone (and what it restores must not be backed up meanwhile). */
  running: boolean;
  /** Set when the journal cannot be read: it must be settled by hand. */
  unreadable?: string;
  /** A staging folder no journal names (core/restore/orphan-staging.ts): `journal` is the folder itself. */
  withoutJournal?: true;
  snapshot?: string;
  startedAt?: string;
  state?: JournalState;
  action?: SettleAction;
  /** Live paths it replaces (or replaced). */
  paths: string[];
  staging: string[];
  safetySnapshot?: string;
}

/** Every restore journal in `journalDir`, read-only: what `status` and `recover --list` report. */
export async function findRestores(journalDir: string): Promise<UnsettledRestore[]> {
  const names = await readdir(journalDir).catch(() => [] as string[]);
  const found: UnsettledRestore[] = [];
  for (const name of names.filter((n) => /^restore-.*\.json$/.test(n)).sort()) {
    const file = join(journalDir, name);
    const live = running.has(file) || isAlive(Number(/-(\d+)\.json$/.exec(name)?.[1]));
    const read = await readRecord(file).catch((err: unknown) => err as FailsafeError);
    if (read instanceof Error) {
      found.push({ journal: file, running: live, unreadable: read.message, paths: [], staging: [] });
      continue;
    }
    found.push({
      journal: file,
      running: live,
      snapshot: read.snapshot,
      startedAt: read.startedAt,
      state: read.state,
      action: ACTION[read.state],
      paths: read.moves.map((m) => m.to),
      staging: read.staging,
      ...(read.safetySnapshot ? { safetySnapshot: read.safetySnapshot } : {}),
    });
  }
  return found;
}

export interface RecoveredRestore {
  /** Unknown for a staging folder no journal named (`withoutJournal`). */
  snapshot?: string;
  startedAt?: string;
  /**
   * `rolled-back`: the live data is the old data again; `completed`: the restore had committed and now stands;
   * `cleaned-up`: it died before touching live data, and its staging folders were removed.
   */
  outcome: 'rolled-back' | 'completed' | 'cleaned-up';
  paths: string[];
  /** The safety snapshot it had taken: kept, as it holds the live data as it was. */
  safetySnapshot?: string;
  /** A staging folder no journal named, removed: its path. */
  withoutJournal?: string;
}

const OUTCOME: Record<JournalState, RecoveredRestore['outcome']> = { staging: 'cleaned-up', swapping: 'rolled-back', committed: 'completed' };

/**
 * Settles every restore a crash left behind in `journalDir`; a journal whose
 * process still runs is left alone. One that cannot be read rejects with
 * E_RESTORE, once every readable one is settled.
 */
export async function recoverRestores(journalDir: string): Promise<RecoveredRestore[]> {
  const recovered: RecoveredRestore[] = [];
  const found = await findRestores(journalDir);
  for (const { journal, running } of found.filter((f) => f.unreadable === undefined)) {
    if (running) continue;
    const record = await readRecord(journal);
    const outcome = record.rolledBack ? 'rolled-back' : OUTCOME[record.state];
    await settleRecord(journal, record);
    recovered.push({
      snapshot: record.snapshot,
      startedAt: record.startedAt,
      outcome,
      paths: record.moves.map((m) => m.to),
      ...(record.safetySnapshot ? { safetySnapshot: record.safetySnapshot } : {}),
    });
  }
  const unreadable = found.find((f) => f.unreadable !== undefined);
  if (unreadable) await readRecord(unreadable.journal);
  return recovered;
}

async function readRecord(file: string): Promise<JournalRecord> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as JournalRecord;
    if (!(record.state in ACTION) || !Array.isArray(record.moves) || !Array.isArray(record.staging)) throw new Error('not a restore journal');
    return record;
  } catch (err) {
    throw new FailsafeError('E_RESTORE', `the journal of an interrupted restore, ${file}, is unreadable: check the paths it names by hand, then remove it`, {
      cause: err,
    });
  }
}

function isAlive(pid: number): boolean {
  // A journal of this very process that is not running here is a dead one whose pid came round again (a container's pid 1).
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}
