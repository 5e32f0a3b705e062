/**
 * Every named crash point, per command: the one list the crash-point sweeps
 * (test/crash/*) walk and docs/reliability.md counts. A point is a durable
 * step — a journal record, a rename, an object stored or deleted — where a
 * crash leaves a state the next command must settle. `crashPoint`
 * (core/testing/crash.ts) and `pauseForTest` (core/testing/test-hooks.ts)
 * take only these names, so a point cannot be added or renamed without
 * being listed here, and the sweeps check that every point listed for a
 * command is reached by it (FAILSAFE_TEST_TRACE), so none silently drops out.
 *
 * A point reached more than once in a run is named `<point>:<n>` when it is
 * armed (the n-th segment stored, the n-th source swapped).
 */
import { appendFileSync } from 'node:fs';

export const CRASH_POINTS = {
  /** Format 1: a file collected, a segment stored, the manifest about to be written, and written. */
  'backup (format 1)': ['entries', 'stored', 'manifest', 'manifest-written'],
  /** Format 2: a pack stored, the run's index stored, the snapshot object about to be written, and written. */
  'backup (format 2)': ['pack-stored', 'index-stored', 'snapshot', 'snapshot-written'],
  /** Format 1: a snapshot marked forgotten, its manifest deleted (it is gone from lists), then each of its objects. */
  'prune (format 1)': ['prune-marked', 'prune-manifest-deleted', 'prune-segment-deleted'],
  /** Format 2: a repacked pack stored, the new index written, each old index and each swept pack deleted. */
  'prune (format 2)': ['prune-repacked', 'prune-index-written', 'prune-index-deleted', 'prune-pack-deleted'],
  /** In place, with a safety snapshot: the journal's records, each source's two renames, the clean-up. */
  'restore in place': ['journal:staging', 'staged', 'journal:safety', 'journal:swapping', 'aside', 'swap', 'journal:committed', 'settle:cleaned'],
  /** Settling a restore killed mid-swap: each rename of the roll-back, the clean-up before the journal goes. */
  'settling a restore': ['undo', 'settle:cleaned'],
  /** Each manifest about to be rewritten under the new key, and rewritten. */
  'keys rotate': ['rotate', 'rotate-written'],
  /** Format 2: each pack or snapshot object sealed for both key sets, the config for the new set alone, each object with the old slots removed. */
  'keys rotate (format 2)': ['rotate-v2-added', 'rotate-v2-config', 'rotate-v2-stripped'],
  /** On a local store: the new record's temp file written (not yet renamed); the record stored; each record beyond `keep` deleted. */
  'checkpoint save': ['file-temp-written', 'checkpoint-written', 'checkpoint-old-deleted'],
  /** The new holder's lock object written, the stale lock removed, no other holder found. */
  'lock take-over': ['lock-written', 'lock-stale-removed', 'lock-taken'],
} as const satisfies Record<string, readonly string[]>;

export type CrashCommand = keyof typeof CRASH_POINTS;
export type CrashPointName = (typeof CRASH_POINTS)[CrashCommand][number];

/** The full name a test arms: `<point>` or `<point>:<n>`. */
export function armedName(point: CrashPointName, count?: number): string {
  return count === undefined ? point : `${point}:${count}`;
}

const trace = process.env.FAILSAFE_TEST_TRACE;

/** With FAILSAFE_TEST_TRACE=<file>, appends the point's name to the file: how a sweep knows every listed point was reached. */
export function tracePoint(point: CrashPointName): void {
  if (trace !== undefined) appendFileSync(trace, `${point}\n`);
}
