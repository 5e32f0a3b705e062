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
  const done: { move: Move; aside?: string }[] = [];
  try {
    for (const move of moves) {
      let aside: string | undefined;
      if (await exists(move.to)) {
        aside = `${move.to}.pre-restore-${stamp}`;
        await rename(move.to, aside);
      }
      try {
        await rename(move.from, move.to);
      } catch (err) {
        if (aside !== undefined) await rename(aside, move.to);
        throw err;
      }
      done.push(aside === undefined ? { move } : { move, aside });
    }
  } catch (err) {
    for (const { move, aside } of done.reverse()) {
      await rename(move.to, move.from).catch(() => undefined);
      if (aside !== undefined) await rename(aside, move.to).catch(() => undefined);
    }
    throw err;
  }
  const previous = done.flatMap((d) => (d.aside === undefined ? [] : [d.aside]));
  if (!options.keepPrevious) {
    for (const path of previous) await rm(path, { recursive: true, force: true });
    return { previous: [] };
  }
  return { previous };
}
