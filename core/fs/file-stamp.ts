/**
 * What the files cache compares to trust a file unchanged without reading it
 * (restic and Borg compare the same): size, inode and both times to the
 * nanosecond, kept as decimal strings because a nanosecond time does not fit
 * a double. A source that already stat'ed a file hands its stamp over
 * (`LocalFile.stamp`), so an unchanged file costs one stat, not two.
 */
import type { BigIntStats } from 'node:fs';

export interface FileStamp {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
}

export function stampOf(stats: BigIntStats): FileStamp {
  return { size: Number(stats.size), mtimeNs: String(stats.mtimeNs), ctimeNs: String(stats.ctimeNs), ino: String(stats.ino) };
}

/** The modification time in whole milliseconds, rounded down as `mtimeOf` does, exact where a double is not. */
export function mtimeOfStamp(stats: BigIntStats): Date {
  return new Date(Number(stats.mtimeNs / 1_000_000n));
}
