/**
 * Built-in remote targets (s3, sftp) bring large client libraries: the AWS SDK
 * alone is tens of MB of memory once loaded. A lazy factory keeps the option
 * schema (needed for config validation and the JSON schema) in the cheap part
 * and imports the implementation only when a target first does I/O, so a
 * deployment that only writes to a local disk never pays for them.
 */
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { ByteRange, ObjectInfo, PutOptions, StorageAdapter, StorageCapabilities, StorageOptions } from '../contracts.js';
import { defineAdapter, type AdapterContext, type AdapterFactory } from '../sdk/registry.js';
import type { RetryPolicy } from './retry.js';

/** The optional members an implementation has; they must exist (or not) before it is loaded. */
export type OptionalMember = 'getBuffer' | 'cleanupTemp' | 'lockedUntil' | 'extendLock';

export interface LazyAdapterSpec<Options> {
  type: string;
  optionsSchema: z.ZodType<Options>;
  pathOptions?: readonly string[];
  /** As AdapterFactory's `retry`. */
  retry?: RetryPolicy | false;
  /** Fixed before any I/O, as the storage facade and the backup engine read them then: the same for every target, or from its options. */
  capabilities: StorageCapabilities | ((options: Options) => StorageCapabilities);
  optional: readonly OptionalMember[];
  /** Called at create time, with the validated options: for checks and warnings that must not wait for first use. */
  check?(options: Options, targetName: string, context: AdapterContext | undefined): void;
  /** Imports the implementation and builds it (dynamic `import()` only). */
  load(options: Options, targetName: string, context: AdapterContext | undefined): Promise<StorageAdapter>;
}

export function defineLazyAdapter<Options>(spec: LazyAdapterSpec<Options>): AdapterFactory<Options> {
  return defineAdapter<Options>({
    type: spec.type,
    optionsSchema: spec.optionsSchema,
    ...(spec.pathOptions ? { pathOptions: spec.pathOptions } : {}),
    ...(spec.retry === undefined ? {} : { retry: spec.retry }),
    create(options, targetName, context) {
      // Invalid options still fail when the target is created, not on its first use.
      const parsed = spec.optionsSchema.parse(options);
      spec.check?.(parsed, targetName, context);
      const capabilities = typeof spec.capabilities === 'function' ? spec.capabilities(parsed) : spec.capabilities;
      return new LazyAdapter({ ...spec, capabilities }, () => spec.load(parsed, targetName, context));
    },
  });
}

export class LazyAdapter implements StorageAdapter {
  readonly type: string;
  readonly capabilities: StorageCapabilities;
  getBuffer?: (key: string, options?: StorageOptions) => Promise<Buffer>;
  cleanupTemp?: (olderThanMs: number, ...rest: unknown[]) => Promise<number>;
  lockedUntil?: (key: string, options?: StorageOptions) => Promise<Date | undefined>;
  extendLock?: (key: string, options?: StorageOptions) => Promise<Date | undefined>;
  readonly #load: () => Promise<StorageAdapter>;
  #real: Promise<StorageAdapter> | undefined;

  constructor(spec: Pick<LazyAdapterSpec<unknown>, 'type' | 'optional'> & { capabilities: StorageCapabilities }, load: () => Promise<StorageAdapter>) {
    this.type = spec.type;
    this.capabilities = spec.capabilities;
    this.#load = load;
    for (const member of spec.optional) {
      const forward = async (...args: unknown[]): Promise<unknown> => {
        const real = (await this.real()) as unknown as Record<OptionalMember, (...a: unknown[]) => Promise<unknown>>;
        return real[member](...args);
      };
      Object.defineProperty(this, member, { value: forward, enumerable: true });
    }
  }

  /** The implementation, imported and built on the first call. */
  real(): Promise<StorageAdapter> {
    // A failed import is not cached: the next operation tries again.
    this.#real ??= this.#load().catch((err: unknown) => {
      this.#real = undefined;
      throw err;
    });
    return this.#real;
  }

  async put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ size: number }> {
    return (await this.real()).put(key, body, options);
  }

  async get(key: string, options?: StorageOptions & { range?: ByteRange }): Promise<Readable> {
    return (await this.real()).get(key, options);
  }

  async head(key: string, options?: StorageOptions): Promise<ObjectInfo | undefined> {
    return (await this.real()).head(key, options);
  }

  async *list(prefix: string, options?: StorageOptions): AsyncIterable<ObjectInfo> {
    yield* (await this.real()).list(prefix, options);
  }

  async delete(key: string, options?: StorageOptions): Promise<void> {
    return (await this.real()).delete(key, options);
  }

  /** Never loads the implementation just to close it. */
  async close(): Promise<void> {
    const real = this.#real;
    if (!real) return;
    this.#real = undefined;
    await (await real).close?.();
  }
}
