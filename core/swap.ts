/**
 * Moving staged data into place. Each move renames the live path aside
 * (kept as `<path>.pre-restore-<stamp>`) and the staged path in; if any move
 * fails, every move already made is undone, so the live data ends fully old
 * or fully new.
 */
import { lstat, rename, rm } from 'node:fs/promises';

export interface Move {
  from: string;
  to: string;
  /** Files moved aside with `to` (a database's -wal and -shm) and not replaced. */
  companions?: string[];
}

export interface SwapResult {
  /** Where the previous data now lives, one per replaced path. */
  previous: string[];
}

export function restoreStamp(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export async function swapIntoPlace(moves: Move[], stamp: string, options: { keepPrevious: boolean }): Promise<SwapResult> {
  const done: { move: Move; aside?: string; companions: [string, string][] }[] = [];
  const undoCompanions = async (moved: [string, string][]): Promise<void> => {
    for (const [original, aside] of moved.reverse()) await rename(aside, original).catch(() => undefined);
  };
  try {
    for (const move of moves) {
      const companions: [string, string][] = [];
      let aside: string | undefined;
      try {
        for (const companion of move.companions ?? []) {
          if (!(await exists(companion))) continue;
          await rename(companion, `${companion}.pre-restore-${stamp}`);
          companions.push([companion, `${companion}.pre-restore-${stamp}`]);
        }
        if (await exists(move.to)) {
          aside = `${move.to}.pre-restore-${stamp}`;
          await rename(move.to, aside);
        }
        await rename(move.from, move.to);
      } catch (err) {
        if (aside !== undefined) await rename(aside, move.to).catch(() => undefined);
        await undoCompanions(companions);
        throw err;
      }
      done.push(aside === undefined ? { move, companions } : { move, aside, companions });
    }
  } catch (err) {
    for (const { move, aside, companions } of done.reverse()) {
      await rename(move.to, move.from).catch(() => undefined);
      if (aside !== undefined) await rename(aside, move.to).catch(() => undefined);
      await undoCompanions(companions);
    }
    throw err;
  }
  const previous = done.flatMap((d) => [...(d.aside === undefined ? [] : [d.aside]), ...d.companions.map(([, aside]) => aside)]);
  if (!options.keepPrevious) {
    for (const path of previous) await rm(path, { recursive: true, force: true });
    return { previous: [] };
  }
  return { previous };
}
