/**
 * A job's `onSourceError`: with `fail` (the default) a failing source fails
 * the whole job, as it always did; with `continue` a source that fails before
 * its first entry is archived — a database that cannot be snapshotted, a dump
 * command that exits non-zero, a folder that is missing — is left out of the
 * snapshot and reported, and the job's other sources are still backed up.
 *
 * Left out, not recorded empty: a source in a snapshot with no entries would
 * make an in-place restore of that snapshot empty the source's live data. A
 * source that fails after some of its entries were archived still fails the
 * job: the snapshot would hold part of it, which restores as data that never
 * existed.
 */
import type { SourceContext, SourceEntry, SourcePlugin } from '../contracts.js';
import { asFailsafeError, isAbortError, type FailsafeError } from '../errors.js';

export const SOURCE_ERROR_MODES = ['fail', 'continue'] as const;
export type OnSourceError = (typeof SOURCE_ERROR_MODES)[number];

/** A source left out of a snapshot the job's other sources made. */
export interface SourceFailure {
  source: string;
  error: FailsafeError;
}

/** The sources of one backup of a job and, with `continue`, those that failed and were left out. */
export class SourceFailures {
  readonly #mode: OnSourceError;
  readonly #failed = new Map<string, FailsafeError>();

  constructor(mode: OnSourceError = 'fail') {
    this.#mode = mode;
  }

  /** The sources as the backup should run them: unchanged with `fail`. */
  wrap(sources: SourcePlugin[]): SourcePlugin[] {
    return this.#mode === 'fail' ? sources : sources.map((source) => new TolerantSource(source, this));
  }

  get failures(): SourceFailure[] {
    return [...this.#failed].map(([source, error]) => ({ source, error }));
  }

  /** Records a failure, unless the backup is being cancelled (which is not the source's failure). */
  record(source: string, err: unknown): void {
    if (isAbortError(err)) throw err;
    this.#failed.set(source, asFailsafeError(err));
  }

  has(source: string): boolean {
    return this.#failed.has(source);
  }

  error(source: string): FailsafeError | undefined {
    return this.#failed.get(source);
  }
}

/** Whether the collect stage must leave `source` out of the snapshot's sources. */
export function isLeftOut(source: SourcePlugin): boolean {
  return source instanceof TolerantSource && source.failures.has(source.name);
}

/** With every source left out there is nothing to snapshot: the job fails with the first one's error. */
export function assertNotAllLeftOut(sources: SourcePlugin[]): void {
  const first = sources[0];
  if (first && sources.every(isLeftOut)) throw (first as TolerantSource).failures.error(first.name)!;
}

class TolerantSource implements SourcePlugin {
  readonly type: string;
  readonly name: string;
  readonly #inner: SourcePlugin;
  readonly failures: SourceFailures;
  /** Present only when the source's is: the manifest records no `meta` for a source without one. */
  readonly describe?: () => Record<string, unknown>;

  constructor(inner: SourcePlugin, failures: SourceFailures) {
    this.#inner = inner;
    this.type = inner.type;
    this.name = inner.name;
    this.failures = failures;
    if (inner.describe) this.describe = () => inner.describe!();
  }

  async prepare(context: SourceContext): Promise<void> {
    try {
      await this.#inner.prepare?.(context);
    } catch (err) {
      this.failures.record(this.name, err);
    }
  }

  async *entries(context: SourceContext): AsyncIterable<SourceEntry> {
    if (this.failures.has(this.name)) return;
    const iterator = this.#inner.entries(context)[Symbol.asyncIterator]();
    let first: IteratorResult<SourceEntry>;
    try {
      first = await iterator.next();
    } catch (err) {
      this.failures.record(this.name, err);
      return;
    }
    if (first.done) return;
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }

  cleanup(): Promise<void> {
    return this.#inner.cleanup?.() ?? Promise.resolve();
  }

  liveLocations(): ReturnType<SourcePlugin['liveLocations']> {
    return this.#inner.liveLocations();
  }

  restore(...args: Parameters<SourcePlugin['restore']>): ReturnType<SourcePlugin['restore']> {
    return this.#inner.restore(...args);
  }
}
