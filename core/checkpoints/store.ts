/**
 * Checkpoints of long operations (the seeds' FailsafeManager), over any
 * target. Every save is a new object keyed by its sequence number, so a
 * write torn by a crash can never replace the last good checkpoint; reads
 * skip records that do not parse, with a warning. The newest `keep` records
 * of each operation are kept. The records themselves: core/checkpoints/record.ts.
 */
import type { StorageAdapter } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { Storage } from '../repository/storage.js';
import { pauseForTest } from '../testing/test-hooks.js';
import { recordedRetry, type RecordedRetryOptions } from './retry-step.js';
import { addError, addRecovery, DEFAULT_MAX_ERRORS, readErrorLog, type ErrorLog } from './error-history.js';
import {
  CHECKPOINT_STATES,
  CHECKPOINTS_PREFIX,
  checkInput,
  checkOperationId,
  newCheckpoint,
  encodeRecord,
  readRecord,
  recordKey,
  sequenceOf,
  summarize,
  type Checkpoint,
  type CheckpointInput,
  type CheckpointState,
  type OperationSummary,
} from './record.js';

export type { ErrorLog, ErrorStats, RecordedError } from './error-history.js';
export { CHECKPOINT_STATES, CHECKPOINTS_PREFIX, type Checkpoint, type CheckpointInput, type CheckpointState, type OperationSummary } from './record.js';

export interface CheckpointStats {
  checkpoints: number;
  operations: number;
  /** Operations whose newest checkpoint is not `completed`. */
  activeOperations: number;
  byState: Record<CheckpointState, number>;
  bytes: number;
}

export interface CheckpointStoreOptions {
  /** Records kept per operation; default 10. */
  keep?: number;
  /** Failures kept in each operation's error history; default 50 (its counts cover every failure). */
  maxErrors?: number;
  warn?: (message: string) => void;
}

export class CheckpointStore {
  readonly storage: Storage;
  readonly keep: number;
  readonly maxErrors: number;
  readonly #warn: (message: string) => void;
  /** Last sequence written or seen per operation, so a save needs no listing to number itself. */
  readonly #sequences = new Map<string, number>();
  /** Record keys per operation, oldest first, as last listed or written. */
  readonly #known = new Map<string, string[]>();
  /** Each operation's error history, as last saved or read: every save carries it on. */
  readonly #logs = new Map<string, ErrorLog>();
  /** The newest checkpoint per operation, which recording an error saves again with the longer history. */
  readonly #last = new Map<string, Checkpoint<unknown>>();
  /** Saves of one operation run one after another: two at once would take the same sequence number. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(storage: Storage | StorageAdapter, options: CheckpointStoreOptions = {}) {
    this.storage = storage instanceof Storage ? storage : new Storage(storage, storage.type);
    this.keep = atLeastOne('keep', options.keep ?? 10);
    this.maxErrors = atLeastOne('maxErrors', options.maxErrors ?? DEFAULT_MAX_ERRORS);
    this.#warn = options.warn ?? ((message) => process.emitWarning(message));
  }

  /** Writes a new checkpoint, carrying the operation's error history on. */
  async save<D = Record<string, unknown>>(input: CheckpointInput<D>): Promise<Checkpoint<D>> {
    checkInput(input);
    return await this.#queued(input.operationId, () => this.#save(input));
  }

  async #save<D>(input: CheckpointInput<D>): Promise<Checkpoint<D>> {
    const log = await this.#log(input.operationId);
    const keys = await this.#keys(input.operationId);
    const sequence = (this.#sequences.get(input.operationId) ?? 0) + 1;
    const checkpoint = newCheckpoint(input, sequence, log);
    const key = recordKey(input.operationId, sequence);
    const record = encodeRecord(checkpoint);
    await this.storage.put(key, record.bytes, { sha256: record.sha256 });
    await pauseForTest('checkpoint-written');
    this.#sequences.set(input.operationId, sequence);
    this.#last.set(input.operationId, checkpoint);
    keys.push(key);
    // Older records go only once the new one is durable.
    for (const old of keys.splice(0, Math.max(0, keys.length - this.keep))) {
      await this.storage.delete(old);
      await pauseForTest('checkpoint-old-deleted');
    }
    return checkpoint;
  }

  /** A checkpoint by its id (`<operation id>/<sequence>`); undefined when gone or unreadable. */
  async load(checkpointId: string): Promise<Checkpoint | undefined> {
    const match = /^(.+)\/(\d+)$/.exec(checkpointId);
    if (!match) throw new FailsafeError('E_USAGE', `invalid checkpoint id "${checkpointId}"`);
    checkOperationId(match[1]!);
    return readRecord(this.storage, this.#warn, recordKey(match[1]!, Number(match[2])));
  }

  /** The newest readable checkpoint of an operation. */
  async latest<D = Record<string, unknown>>(operationId: string): Promise<Checkpoint<D> | undefined> {
    checkOperationId(operationId);
    const keys = await this.#list(operationId);
    for (let i = keys.length - 1; i >= 0; i--) {
      const checkpoint = await readRecord(this.storage, this.#warn, keys[i]!);
      if (checkpoint) return checkpoint as Checkpoint<D>;
    }
    return undefined;
  }

  /** Every readable checkpoint of an operation, oldest first. */
  async history(operationId: string): Promise<Checkpoint[]> {
    checkOperationId(operationId);
    const out: Checkpoint[] = [];
    for (const key of await this.#list(operationId)) {
      const checkpoint = await readRecord(this.storage, this.#warn, key);
      if (checkpoint) out.push(checkpoint);
    }
    return out;
  }

  /** True when the operation has a checkpoint and did not complete. */
  async canResume(operationId: string): Promise<boolean> {
    const latest = await this.latest(operationId);
    return latest !== undefined && latest.state !== 'completed';
  }

  /**
   * Resumes an operation from its newest checkpoint: marks it `recovering`,
   * runs `callback`, then marks it `completed` (or `failed`, and rethrows).
   * The callback may save further checkpoints of the operation itself.
   */
  async resume<T, D = Record<string, unknown>>(operationId: string, callback: (checkpoint: Checkpoint<D>) => T | Promise<T>): Promise<T> {
    const latest = await this.latest<D>(operationId);
    if (!latest || latest.state === 'completed') throw new FailsafeError('E_NOT_FOUND', `operation "${operationId}" has nothing to resume`);
    const recovering = await this.save<D>({ ...latest, state: 'recovering' });
    let result: T;
    try {
      result = await callback(recovering);
    } catch (err) {
      const last = (await this.latest<D>(operationId)) ?? recovering;
      await this.save<D>({ ...last, state: 'failed', metadata: { ...last.metadata, error: err instanceof Error ? err.message : String(err) } }).catch(
        () => undefined,
      );
      throw err;
    }
    const last = (await this.latest<D>(operationId)) ?? recovering;
    await this.save<D>({ ...last, state: 'completed', progress: 1 });
    return result;
  }

  /** The newest checkpoint of every operation. */
  async operations(): Promise<Checkpoint[]> {
    const out: Checkpoint[] = [];
    for (const operationId of await this.#operationIds()) {
      const latest = await this.latest(operationId);
      if (latest) out.push(latest);
    }
    return out;
  }

  /** Every operation that did not complete, with its progress: what start-up recovery offers. */
  async recoverable(): Promise<OperationSummary[]> {
    return (await this.operations()).filter((c) => c.state !== 'completed').map(summarize);
  }

  /** Removes every record of an operation. */
  async discard(operationId: string): Promise<void> {
    checkOperationId(operationId);
    for (const key of await this.#list(operationId)) await this.storage.delete(key);
    this.#known.set(operationId, []);
    this.#logs.delete(operationId);
    this.#last.delete(operationId);
  }

  /** The operation's error history and its counts, as its newest checkpoint holds them. */
  async errors(operationId: string): Promise<ErrorLog> {
    await this.#queues.get(operationId);
    return readErrorLog((await this.latest(operationId))?.errors);
  }

  /**
   * Adds a failure to the operation's error history and stores it at once (in its newest checkpoint saved again, or an
   * `initialized` one), so a crash loses nothing; a failure to store it is only warned of: it must not hide this one.
   */
  async recordError(
    operationId: string,
    err: unknown,
    entry: { attempt?: number; willRetry?: boolean; context?: Record<string, unknown> } = {},
  ): Promise<void> {
    checkOperationId(operationId);
    await this.#keepLog(operationId, (log) => void addError(log, err, entry, this.maxErrors));
  }

  /** `fn` retried (./retry-step.ts), each failed attempt recorded in the operation's error history with `context`. */
  retry<T>(operationId: string, fn: (attempt: number) => T | Promise<T>, options: RecordedRetryOptions = {}): Promise<T> {
    checkOperationId(operationId);
    return recordedRetry(this, operationId, fn, options);
  }

  /** Counts a retried call of the operation that succeeded in the end. */
  recordRecovery(operationId: string): Promise<void> {
    return this.#keepLog(operationId, addRecovery);
  }

  async #keepLog(operationId: string, change: (log: ErrorLog) => void): Promise<void> {
    try {
      await this.#queued(operationId, async () => {
        change(await this.#log(operationId));
        // #log has read the newest checkpoint into #last when there is one.
        await this.#save(this.#last.get(operationId) ?? { operationId, operationName: operationId, state: 'initialized', progress: 0 });
      });
    } catch (saveErr) {
      const why = saveErr instanceof Error ? saveErr.message : String(saveErr);
      this.#warn(`could not store the error history of ${operationId} in ${this.storage.targetName}: ${why}`);
    }
  }

  /** The operation's error history in this process: read from its newest checkpoint the first time. */
  async #log(operationId: string): Promise<ErrorLog> {
    let log = this.#logs.get(operationId);
    if (!log) {
      const latest = await this.latest(operationId);
      log = this.#logs.get(operationId) ?? readErrorLog(latest?.errors);
      this.#logs.set(operationId, log);
      if (latest && !this.#last.has(operationId)) this.#last.set(operationId, latest);
    }
    return log;
  }

  #queued<T>(operationId: string, run: () => Promise<T>): Promise<T> {
    const next = (this.#queues.get(operationId) ?? Promise.resolve()).then(run, run);
    const settled = next.catch(() => undefined);
    this.#queues.set(operationId, settled);
    return next;
  }

  /** Removes the operations whose newest checkpoint is `completed`; resolves with how many. */
  async clearCompleted(): Promise<number> {
    let cleared = 0;
    for (const checkpoint of await this.operations()) {
      if (checkpoint.state !== 'completed') continue;
      await this.discard(checkpoint.operationId);
      cleared++;
    }
    return cleared;
  }

  async stats(): Promise<CheckpointStats> {
    const byState = Object.fromEntries(CHECKPOINT_STATES.map((s) => [s, 0])) as Record<CheckpointState, number>;
    let checkpoints = 0;
    let bytes = 0;
    for await (const object of this.storage.list(CHECKPOINTS_PREFIX)) {
      checkpoints++;
      bytes += object.size;
    }
    const operations = await this.operations();
    for (const op of operations) byState[op.state]++;
    return { checkpoints, operations: operations.length, activeOperations: operations.length - byState.completed, byState, bytes };
  }

  async #operationIds(): Promise<string[]> {
    const ids = new Set<string>();
    for await (const object of this.storage.list(CHECKPOINTS_PREFIX)) {
      const id = object.key.slice(CHECKPOINTS_PREFIX.length).split('/')[0];
      if (id) ids.add(id);
    }
    return [...ids];
  }

  async #keys(operationId: string): Promise<string[]> {
    return this.#known.get(operationId) ?? (await this.#list(operationId));
  }

  /** Record keys of an operation, oldest first; also learns its last sequence. */
  async #list(operationId: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of this.storage.list(`${CHECKPOINTS_PREFIX}${operationId}/`)) {
      if (sequenceOf(object.key) !== undefined) keys.push(object.key);
    }
    keys.sort();
    const last = keys.length > 0 ? sequenceOf(keys[keys.length - 1]!)! : 0;
    this.#sequences.set(operationId, Math.max(last, this.#sequences.get(operationId) ?? 0));
    this.#known.set(operationId, keys);
    return keys;
  }
}

function atLeastOne(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new FailsafeError('E_USAGE', `${name} must be a whole number of at least 1, not ${value}`);
  return value;
}
