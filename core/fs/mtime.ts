/**
 * A file's modification time as an archive keeps it: whole milliseconds,
 * rounded down, as tar rounds down to whole seconds. Node's `Stats.mtime`
 * rounds to the nearest millisecond instead, so a file written in the last
 * half millisecond of a second would come back from a restore stamped with
 * the next second: a different time to tar, rsync and make.
 */
export function mtimeOf(stats: { mtimeMs: number }): Date {
  return new Date(Math.floor(stats.mtimeMs));
}

/**
 * Whether a file's time moved since `recorded` was taken from it, whichever
 * way that was rounded to whole milliseconds (a plugin may hand over Node's
 * `Stats.mtime`, which rounds, or `mtimeOf`, which does not).
 */
export function mtimeMoved(stats: { mtimeMs: number }, recorded: Date): boolean {
  return Math.abs(stats.mtimeMs - recorded.getTime()) >= 1;
}
