/**
 * Moving staged data into place, for every source of a restore at once.
 * Before the first rename a journal (an intent log) lists every move; each
 * move renames the live path aside (`<path>.pre-restore-<stamp>`) and the
 * staged path in. Undoing reads the filesystem, not a step counter, so the
 * same code rolls back a failed swap, a failed post-swap check, or a swap
 * killed half-way (found through its journal by the next restore). The live
 * data therefore ends fully old or fully new, never mixed.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoOf, FailsafeError, fromNodeError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { pauseForTest } from '../testing/test-hooks.js';

export interface Move {
  from: string;
  to: string;
  /** Files moved aside with `to` (a database's -wal and -shm) and not replaced. */
  companions?: string[];
}

/** A move as the journal records it: where the live data goes aside, and whether there was any. */
interface JournalMove {
  from: string;
  to: string;
  aside: string;
  hadLive: boolean;
  companions: { path: string; aside: string }[];
}

interface Journal {
  version: 1;
  /** `swapping`: roll back; `committed`: the new data stands, only clean-up is left. */
  state: 'swapping' | 'committed';
  startedAt: string;
  snapshot: string;
  keepPrevious: boolean;
  staging: string[];
  moves: JournalMove[];
}

export function restoreStamp(now = new Date()): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export interface SwapOptions {
  /** Folder holding the journal while the swap is in progress. */
  journalDir: string;
  /** `job/id` of the snapshot, for messages about an interrupted restore. */
  snapshot: string;
  /** Staging folders removed once the swap is settled either way. */
  staging: string[];
  keepPrevious: boolean;
}

/** A swap that happened and is not settled yet: `commit()` keeps it, `rollback()` undoes it. */
export class Swap {
  readonly #file: string;
  readonly #journal: Journal;

  private constructor(file: string, journal: Journal) {
    this.#file = file;
    this.#journal = journal;
  }

  /** Journals and performs every move; on any failure undoes them all and rethrows. */
  static async begin(moves: Move[], options: SwapOptions): Promise<Swap> {
    const stamp = restoreStamp();
    const journalMoves: JournalMove[] = [];
    for (const move of moves) {
      journalMoves.push({
        from: move.from,
        to: move.to,
        aside: `${move.to}.pre-restore-${stamp}`,
        hadLive: await exists(move.to),
        companions: (move.companions ?? []).map((path) => ({ path, aside: `${path}.pre-restore-${stamp}` })),
      });
    }
    const journal: Journal = {
      version: 1,
      state: 'swapping',
      startedAt: new Date().toISOString(),
      snapshot: options.snapshot,
      keepPrevious: options.keepPrevious,
      staging: options.staging,
      moves: journalMoves,
    };
    const file = join(options.journalDir, `restore-${stamp}-${process.pid}.json`);
    try {
      await mkdir(options.journalDir, { recursive: true });
      await writeFileAtomic(file, Buffer.from(JSON.stringify(journal)));
    } catch (err) {
      throw fromNodeError(err, `cannot write the restore journal in ${options.journalDir} (nothing was changed)`);
    }
    const swap = new Swap(file, journal);
    try {
      for (const [index, move] of journalMoves.entries()) {
        for (const companion of move.companions) {
          if (await exists(companion.path)) await rename(companion.path, companion.aside);
        }
        if (move.hadLive) await rename(move.to, move.aside);
        await mkdir(dirname(move.to), { recursive: true });
        await rename(move.from, move.to);
        await pauseForTest(`swap:${index + 1}`);
      }
    } catch (err) {
      await swap.rollback();
      throw err;
    }
    return swap;
  }

  /** Where the data replaced at these destinations now lives (nothing once removed without keepPrevious). */
  previousOf(destinations: string[]): string[] {
    if (!this.#journal.keepPrevious) return [];
    return this.#journal.moves
      .filter((m) => destinations.includes(m.to))
      .flatMap((m) => [...(m.hadLive ? [m.aside] : []), ...m.companions.filter((c) => existsSync(c.aside)).map((c) => c.aside)]);
  }

  async rollback(): Promise<void> {
    await undo(this.#journal);
    await settle(this.#file, this.#journal);
  }

  async commit(): Promise<void> {
    this.#journal.state = 'committed';
    await writeFileAtomic(this.#file, Buffer.from(JSON.stringify(this.#journal)));
    await pauseForTest('committed');
    await settle(this.#file, this.#journal);
  }
}

/** Undoes each move as far as the filesystem shows it was made, last first. */
async function undo(journal: Journal): Promise<void> {
  for (const move of [...journal.moves].reverse()) {
    if (!(await exists(move.from)) && (await exists(move.to))) await rename(move.to, move.from);
    if (move.hadLive && !(await exists(move.to)) && (await exists(move.aside))) await rename(move.aside, move.to);
    for (const companion of [...move.companions].reverse()) {
      if (!(await exists(companion.path)) && (await exists(companion.aside))) await rename(companion.aside, companion.path);
    }
  }
}

/** Clean-up once the outcome is decided: drop what is not kept, then the journal (last, so a crash repeats this). */
async function settle(file: string, journal: Journal): Promise<void> {
  if (journal.state === 'committed' && !journal.keepPrevious) {
    for (const move of journal.moves) {
      if (move.hadLive) await rm(move.aside, { recursive: true, force: true });
      for (const companion of move.companions) await rm(companion.aside, { force: true });
    }
  }
  for (const dir of journal.staging) await rm(dir, { recursive: true, force: true });
  await rm(file, { force: true });
}

export interface RecoveredRestore {
  snapshot: string;
  startedAt: string;
  /** `rolled-back`: the live data is the old data again; `completed`: the restore had committed and now stands. */
  outcome: 'rolled-back' | 'completed';
  paths: string[];
}

/** Settles every restore a crash left behind in `journalDir`. */
export async function recoverRestores(journalDir: string): Promise<RecoveredRestore[]> {
  const names = await readdir(journalDir).catch(() => [] as string[]);
  const recovered: RecoveredRestore[] = [];
  for (const name of names.filter((n) => /^restore-.*\.json$/.test(n)).sort()) {
    const pid = Number(/-(\d+)\.json$/.exec(name)?.[1]);
    if (pid !== process.pid && isAlive(pid)) continue; // another restore, still running
    const file = join(journalDir, name);
    let journal: Journal;
    try {
      journal = JSON.parse(await readFile(file, 'utf8')) as Journal;
    } catch (err) {
      throw new FailsafeError('E_RESTORE', `the journal of an interrupted restore, ${file}, is unreadable: check the paths it names by hand, then remove it`, {
        cause: err,
      });
    }
    if (journal.state === 'swapping') await undo(journal);
    await settle(file, journal);
    recovered.push({
      snapshot: journal.snapshot,
      startedAt: journal.startedAt,
      outcome: journal.state === 'swapping' ? 'rolled-back' : 'completed',
      paths: journal.moves.map((m) => m.to),
    });
  }
  return recovered;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}
