/**
 * The facade every caller uses instead of an adapter (as flydrive's Disk):
 * it validates keys before an adapter sees them, turns any adapter error into
 * a FailsafeError naming the target and key, and fills in ranged reads for
 * adapters that cannot do them.
 */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter, StorageCapabilities, StorageOptions } from '../contracts.js';
import { FailsafeError, fromNodeError, isAbortError } from '../errors.js';
import { readAgain, READ_TRIES } from './read-again.js';
import { RetryCounter } from './retry-counts.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function validateKey(key: string): void {
  const ok =
    typeof key === 'string' && key.length > 0 && key.length <= 1024 && key.split('/').every((part) => SEGMENT.test(part) && part !== '.' && part !== '..');
  if (!ok) throw new FailsafeError('E_USAGE', `invalid storage key "${key}"`);
}

function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

export class Storage {
  readonly adapter: StorageAdapter;
  readonly targetName: string;
  /** Where this target's retries are counted: the deployment's counter (api/container.ts), or one of its own. */
  readonly retries: RetryCounter;

  constructor(adapter: StorageAdapter, targetName: string, retries: RetryCounter = new RetryCounter()) {
    this.adapter = adapter;
    this.targetName = targetName;
    this.retries = retries;
  }

  /**
   * `read()` — a fetch from this target and the check of its bytes — tried again while it breaks or fails its check
   * (./read-again.ts), each retry counted; once for local files, whose bytes did not travel.
   */
  readAgain<T>(read: () => Promise<T>, options: { signal?: AbortSignal | undefined } = {}): Promise<T> {
    return readAgain(read, { signal: options.signal, tries: this.localFiles ? 1 : READ_TRIES, onRetry: (err) => this.retries.count('refetched', err) });
  }

  get capabilities(): StorageCapabilities {
    return this.adapter.capabilities;
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<{ size: number }> {
    validateKey(key);
    return this.#wrap('put', key, () => this.adapter.put(key, body, options));
  }

  async get(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Readable> {
    validateKey(key);
    const { range, ...rest } = options;
    if (range && !this.adapter.capabilities.rangeRead) {
      const whole = await this.#wrap('get', key, () => this.adapter.get(key, rest));
      return sliceStream(whole, range);
    }
    return this.#wrap('get', key, () => this.adapter.get(key, options));
  }

  /** The whole object (or range) in memory: for manifests and segments, which are bounded in size. */
  async getBuffer(key: string, options: StorageOptions & { range?: ByteRange } = {}): Promise<Buffer> {
    const { range, ...rest } = options;
    if (range === undefined && this.adapter.getBuffer) {
      validateKey(key);
      return this.#wrap('get', key, () => this.adapter.getBuffer!(key, rest));
    }
    const stream = await this.get(key, options);
    return this.#wrap('get', key, async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });
  }

  /** Whether objects are local files (the adapter has `filePath`): reading one costs no round trip. */
  get localFiles(): boolean {
    return this.adapter.filePath !== undefined;
  }

  /** The object's local file when the adapter has one (`filePath`), else undefined: read it with `getBuffer`. */
  async filePath(key: string): Promise<string | undefined> {
    if (!this.adapter.filePath) return undefined;
    validateKey(key);
    return this.#wrap('get', key, () => this.adapter.filePath!(key));
  }

  async head(key: string, options: StorageOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    return this.#wrap('head', key, () => this.adapter.head(key, options));
  }

  async exists(key: string, options: StorageOptions = {}): Promise<boolean> {
    return (await this.head(key, options)) !== undefined;
  }

  async *list(prefix: string, options: StorageOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    try {
      yield* this.adapter.list(prefix, options);
    } catch (err) {
      throw this.#error('list', prefix, err);
    }
  }

  async delete(key: string, options: StorageOptions = {}): Promise<void> {
    validateKey(key);
    return this.#wrap('delete', key, () => this.adapter.delete(key, options));
  }

  async close(): Promise<void> {
    await this.adapter.close?.();
  }

  /** Leftovers of interrupted writes removed, or undefined when the adapter has none to clean. */
  async cleanupTemp(olderThanMs: number): Promise<number | undefined> {
    const adapter = this.adapter;
    if (!adapter.cleanupTemp) return undefined;
    return this.#wrap('cleanup', '', () => adapter.cleanupTemp!(olderThanMs));
  }

  /** The end of the object's retention lock, or undefined when it is not locked (or the store has no locks). */
  async lockedUntil(key: string, options: StorageOptions = {}): Promise<Date | undefined> {
    validateKey(key);
    const adapter = this.adapter;
    if (!adapter.lockedUntil) return undefined;
    return this.#wrap('lock check', key, () => adapter.lockedUntil!(key, options));
  }

  /** Whether the adapter can extend retention locks (`extendLock`); it may still be set to lock nothing. */
  get extendsLocks(): boolean {
    return this.adapter.extendLock !== undefined;
  }

  /** The object's lock moved to the adapter's period from now: its new end, or undefined when the adapter locks nothing. */
  async extendLock(key: string, options: StorageOptions = {}): Promise<Date | undefined> {
    validateKey(key);
    const adapter = this.adapter;
    if (!adapter.extendLock) return undefined;
    return this.#wrap('lock extension', key, () => adapter.extendLock!(key, options));
  }

  async #wrap<T>(operation: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw this.#error(operation, key, err);
    }
  }

  #error(operation: string, key: string, err: unknown): FailsafeError {
    if (err instanceof FailsafeError) return err;
    if (isAbortError(err)) return new FailsafeError('E_ABORTED', `target "${this.targetName}": ${operation} ${key}: aborted`, { cause: err });
    return fromNodeError(err, `target "${this.targetName}": ${operation} ${key}`);
  }
}

/** Bytes `range.start`..`range.end` (inclusive) of a stream, for adapters without ranged reads. */
export function sliceStream(source: Readable, range: ByteRange): Readable {
  const end = range.end ?? Number.POSITIVE_INFINITY;
  async function* slice(): AsyncGenerator<Buffer> {
    let position = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const from = Math.max(range.start - position, 0);
      const to = Math.min(chunk.length, end - position + 1);
      if (to > from) yield chunk.subarray(from, to);
      position += chunk.length;
      if (position > end) break;
    }
  }
  return Readable.from(slice(), { objectMode: false });
}
