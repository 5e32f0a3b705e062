/**
 * The replaced live data an in-place restore keeps, `<path>.pre-restore-<stamp>`
 * (./swap.ts), and its expiry: with a job's `restore.keepPrevious`, a copy
 * whose stamp is older than that age is removed by the next restore and by
 * prune. The age is read from the stamp in the name, the moment the restore
 * moved the data aside: the copy's mtime is the replaced data's own, which
 * may be years old. Only names this module makes are ever touched: the live
 * path's own name, the exact infix, and a stamp that reads back as a time
 * (`notes.pre-restore-old` or a stamp with a month 13 is a user's file).
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsPath } from '../fs/name-bytes.js';
import { restoreStamp } from './journal.js';

const INFIX = '.pre-restore-';

/** Where a restore stamped `stamp` moves the live `path` aside. */
export function previousCopyOf(path: string, stamp: string): string {
  return `${path}${INFIX}${stamp}`;
}

/** The live path a copy was moved aside from; undefined for a name this module does not make. */
export function livePathOf(copy: string): string | undefined {
  const at = copy.lastIndexOf(INFIX);
  return at > 0 && stampTime(copy.slice(at + INFIX.length)) ? copy.slice(0, at) : undefined;
}

/** Whether any copy of `path` (of any age) is still beside it. */
export async function copiesRemain(path: string): Promise<boolean> {
  const prefix = `${basename(path)}${INFIX}`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names.some((name) => name.startsWith(prefix) && stampTime(name.slice(prefix.length)) !== undefined);
}

/** The time a stamp (`20261203T141815Z`, as restoreStamp writes it) names; undefined for anything else. */
export function stampTime(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) return undefined;
  const time = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  // Date.UTC rolls a month 13 or a 25th hour over: only a stamp that reads back the same is one.
  return Number.isNaN(time.getTime()) || restoreStamp(time) !== stamp ? undefined : time;
}

/** A live path (or a database's -wal/-shm companion) a job's restores replace, and how long its copies are kept. */
export interface ReplacedPath {
  job: string;
  path: string;
  keepMs: number;
}

export interface PreviousCopy {
  job: string;
  /** The copy, `<livePath>.pre-restore-<stamp>`. */
  path: string;
  livePath: string;
  /** ISO 8601: when the restore moved it aside. */
  madeAt: string;
  keepMs: number;
}

/** The copies of `paths` older than their job's age at `now`, found beside each path; younger ones and other names are left out. */
export async function findExpiredCopies(paths: ReplacedPath[], now: Date): Promise<PreviousCopy[]> {
  const found: PreviousCopy[] = [];
  const listings = new Map<string, Promise<string[]>>();
  for (const { job, path, keepMs } of paths) {
    const dir = dirname(path);
    if (!listings.has(dir))
      listings.set(
        dir,
        readdir(dir).catch(() => [] as string[]),
      );
    const prefix = `${basename(path)}${INFIX}`;
    for (const entry of await listings.get(dir)!) {
      if (!entry.startsWith(prefix)) continue;
      const madeAt = stampTime(entry.slice(prefix.length));
      if (madeAt && now.getTime() - madeAt.getTime() > keepMs) {
        found.push({ job, path: join(dir, entry), livePath: path, madeAt: madeAt.toISOString(), keepMs });
      }
    }
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/** Removes the expired copies (all of each: a copy of a folder is a tree); resolves with those removed. */
export async function removeExpiredCopies(paths: ReplacedPath[], now: Date): Promise<PreviousCopy[]> {
  const expired = await findExpiredCopies(paths, now);
  for (const copy of expired) await rm(fsPath(copy.path), { recursive: true, force: true });
  return expired;
}
