/**
 * How often a deployment's transfers were tried again (issue 26): one counter
 * per deployment, built in the composition root (api/container.ts) and handed
 * to every layer that retries — the retry wrapper (./retry.ts), the read-back
 * (./read-back.ts), the fetch-again of a damaged read (./read-again.ts through
 * the Storage facade), and adapters that retry inside (through their
 * AdapterContext). Operations report the difference over their run in
 * `--json` and in the daemon's state file, so a flaky link shows before it
 * fails a backup.
 */
import { isAbortError } from '../errors.js';

export interface RetryCounts {
  /** Uploads (a put, a multipart part) sent again after a failed or damaged attempt. */
  uploads: number;
  /** Downloads fetched again from their start: a request that failed, a transfer that broke, bytes that failed their check. */
  refetched: number;
  /** Downloads read on from the byte reached, after their connection dropped or stalled. */
  resumed: number;
  /** Objects put again because what was read back (`verifyUploads`) was not what was sent. */
  readBacks: number;
  /** Other requests tried again: a head, a listing, a delete. */
  other: number;
  /** Of all those, how many followed a stalled connection (a time-out) rather than a reset or a damaged byte. */
  stalls: number;
}

export type RetryKind = Exclude<keyof RetryCounts, 'stalls'>;

/** Which attempt failed, of how many in all, and how long it waited for a silent connection, when the layer that retries knows. */
export interface Attempt {
  number: number;
  of: number;
  stalledMs?: number;
}

/** One retry, as the `retry` event of a Failsafe carries it (and the CLI's progress line shows it). */
export interface RetryEvent {
  kind: RetryKind;
  /** The attempt failed on a stalled connection (a time-out), not a reset or a damaged byte. */
  stalled: boolean;
  attempt?: Attempt;
}

/** What a layer that retries calls, once per attempt it will make again, with the failure that caused it. */
export type RetryListener = (kind: RetryKind, err?: unknown, attempt?: Attempt) => void;

export const noRetries = (): RetryCounts => ({ uploads: 0, refetched: 0, resumed: 0, readBacks: 0, other: 0, stalls: 0 });

/** True for a failure that was a connection going silent: an idle or connect time-out, as itself or as a cause. */
export function isStall(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isAbortError(e)) return false;
    const code = (e as { code?: unknown }).code;
    if (e.name === 'TimeoutError' || code === 'ETIMEDOUT' || /timed? ?out|stalled/i.test(e.message)) return true;
  }
  return false;
}

export class RetryCounter {
  readonly #counts = noRetries();
  readonly #listeners = new Set<(event: RetryEvent) => void>();

  /** Counts one retry of `kind`; bound, so that it can be handed around as a RetryListener. */
  readonly count: RetryListener = (kind, err, attempt) => {
    this.#counts[kind]++;
    const stalled = err !== undefined && isStall(err);
    if (stalled) this.#counts.stalls++;
    for (const listener of this.#listeners) listener({ kind, stalled, ...(attempt ? { attempt } : {}) });
  };

  /** Calls `listener` at each retry from now on; returns the unsubscribe. */
  listen(listener: (event: RetryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The counts so far, a copy. */
  snapshot(): RetryCounts {
    return { ...this.#counts };
  }

  /** What was counted since `before` (a snapshot). */
  since(before: RetryCounts): RetryCounts {
    const now = this.snapshot();
    return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof RetryCounts]])) as unknown as RetryCounts;
  }
}

/** `2 uploads sent again, 1 download read on` — the nonzero counts, for people; '' when nothing was retried. */
export function describeRetries(counts: RetryCounts): string {
  const parts: string[] = [];
  const add = (n: number, one: string, many: string): void => void (n > 0 && parts.push(`${n} ${n === 1 ? one : many}`));
  add(counts.uploads, 'upload sent again', 'uploads sent again');
  add(counts.refetched, 'download fetched again', 'downloads fetched again');
  add(counts.resumed, 'download read on', 'downloads read on');
  add(counts.readBacks, 'object put again after its read-back', 'objects put again after their read-back');
  add(counts.other, 'request tried again', 'requests tried again');
  if (counts.stalls > 0) parts.push(`${counts.stalls} of them after a stall`);
  return parts.join(', ');
}

/** `waiting for the target (stalled 30 s, try 2 of 4)`: what a progress line shows while a transfer is tried again. */
export function waitingText(event: RetryEvent, formatMs: (ms: number) => string): string {
  const why = event.stalled ? `stalled${event.attempt?.stalledMs ? ` ${formatMs(event.attempt.stalledMs)}` : ''}` : 'connection lost';
  const attempt = event.attempt;
  return `waiting for the target (${why}${attempt ? `, try ${attempt.number + 1} of ${attempt.of}` : ''})`;
}
