/**
 * Moving staged data into place, for every source of a restore at once.
 * Before the first rename the restore's journal (core/restore/journal.ts)
 * lists every move; each move renames the live path aside
 * (`<path>.pre-restore-<stamp>`) and the staged path in. Undoing reads the
 * filesystem, not a step counter, so the same code rolls back a failed swap, a
 * failed post-swap check, or a swap killed half-way (found through its journal
 * by the next command). The live data therefore ends fully old or fully new.
 */
import { existsSync } from 'node:fs';
import { fsPath } from '../fs/name-bytes.js';
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pauseForTest } from '../testing/test-hooks.js';
import { exists, restoreStamp, RestoreJournal, type JournalMove } from './journal.js';
import { previousCopyOf } from './previous-copies.js';

export { exists, findRestores, recoverRestores, restoreStamp, type RecoveredRestore, type UnsettledRestore } from './journal.js';

export interface Move {
  from: string;
  to: string;
  /** Files moved aside with `to` (a database's -wal and -shm) and not replaced. */
  companions?: string[];
}

export interface SwapOptions {
  /** Folder holding the journal while the swap is in progress. */
  journalDir: string;
  /** `job/id` of the snapshot, for messages about an interrupted restore. */
  snapshot: string;
  /** Staging folders removed once the swap is settled either way. */
  staging: string[];
  keepPrevious: boolean;
  /** The restore's journal, opened before it staged anything; one is opened here without it. */
  journal?: RestoreJournal;
}

/** A swap that happened and is not settled yet: `commit()` keeps it, `rollback()` undoes it. */
export class Swap {
  readonly #journal: RestoreJournal;

  private constructor(journal: RestoreJournal) {
    this.#journal = journal;
  }

  /** Journals and performs every move; on any failure undoes them all and rethrows. */
  static async begin(moves: Move[], options: SwapOptions): Promise<Swap> {
    const stamp = restoreStamp();
    const journal = options.journal ?? (await RestoreJournal.open(options.journalDir, options));
    const record = journal.record;
    for (const move of moves) {
      record.moves.push({
        from: move.from,
        to: move.to,
        aside: previousCopyOf(move.to, stamp),
        hadLive: await exists(move.to),
        companions: (move.companions ?? []).map((path) => ({ path, aside: previousCopyOf(path, stamp) })),
      });
    }
    const swap = new Swap(journal);
    try {
      await journal.write('swapping');
      for (const move of record.moves) await moveIn(move);
    } catch (err) {
      await swap.rollback();
      throw err;
    }
    return swap;
  }

  /** Where the data replaced at these destinations now lives (nothing once removed without keepPrevious). */
  previousOf(destinations: string[]): string[] {
    const record = this.#journal.record;
    if (!record.keepPrevious) return [];
    return record.moves
      .filter((m) => destinations.includes(m.to))
      .flatMap((m) => [...(m.hadLive ? [m.aside] : []), ...m.companions.filter((c) => existsSync(fsPath(c.aside))).map((c) => c.aside)]);
  }

  async rollback(): Promise<void> {
    await this.#journal.settle();
  }

  async commit(): Promise<void> {
    await this.#journal.write('committed');
    await this.#journal.settle();
  }
}

/** One move: the live path (and its companions) aside, then the staged path in; each rename a point a crash may stop at. */
async function moveIn(move: JournalMove): Promise<void> {
  for (const companion of move.companions) {
    if (await exists(companion.path)) await rename(fsPath(companion.path), fsPath(companion.aside));
  }
  if (move.hadLive) {
    await rename(fsPath(move.to), fsPath(move.aside));
    await pauseForTest('aside');
  }
  await mkdir(fsPath(dirname(move.to)), { recursive: true });
  await rename(fsPath(move.from), fsPath(move.to));
  await pauseForTest('swap');
}
