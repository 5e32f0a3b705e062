/**
 * Source plugins and storage adapters are found by their YAML `type` name.
 * A factory pairs the type with a zod schema of its options (validated with
 * file and line by the config loader) and a plain constructor call, so
 * plugins stay usable without any DI container.
 */
import type { z } from 'zod';
import type { SourcePlugin, StorageAdapter } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { RetryPolicy } from '../repository/retry.js';
import type { RetryListener } from '../repository/retry-counts.js';
import type { Timeouts } from '../repository/timeouts.js';

/** What the core hands an adapter besides its options. */
export interface AdapterContext {
  /** Non-fatal problems (an unchecked host key, say), shown to the user on every run. */
  warn(message: string): void;
  /**
   * An adapter that retries inside (`retry: false`) tells of each attempt it makes again, with its kind and its
   * failure, so that the retry counts of `--json` and the state file include it (core/repository/retry-counts.ts).
   */
  retried?: RetryListener;
  /** A run's time-out overrides (`--timeout`), which an adapter with time-outs of its own applies over its options. */
  timeouts?: Timeouts;
}

/** Options naming files on this machine, resolved against the YAML's folder, unless a factory lists its own. */
export const DEFAULT_PATH_OPTIONS: readonly string[] = ['path', 'paths', 'keyFile', 'cwd', 'tempDir'];

export interface SourceFactory<Options = unknown> {
  readonly kind: 'source';
  readonly type: string;
  /** Options as written in YAML, minus `type`; `name` is handled by the core. */
  readonly optionsSchema: z.ZodType<Options>;
  /** Default source name from the options (usually the base name of the path). */
  defaultName(options: Options): string;
  create(options: Options, name: string): SourcePlugin;
}

export interface AdapterFactory<Options = unknown> {
  readonly kind: 'adapter';
  readonly type: string;
  /** Options as written in YAML, minus `type`. */
  readonly optionsSchema: z.ZodType<Options>;
  /** Options that are paths on this machine (default DEFAULT_PATH_OPTIONS); an `sftp` target's `path` is on the server. */
  readonly pathOptions?: readonly string[];
  /**
   * How transient failures of its adapters are retried (core/repository/retry.ts); the default policy when absent.
   * `false` for an adapter that retries inside, where it knows more (a client library's own strategy, a connection pool).
   */
  readonly retry?: RetryPolicy | false;
  create(options: Options, targetName: string, context?: AdapterContext): StorageAdapter;
}

export type PluginFactory = SourceFactory | AdapterFactory;

export function defineSource<Options>(factory: Omit<SourceFactory<Options>, 'kind'>): SourceFactory<Options> {
  return { kind: 'source', ...factory };
}

export function defineAdapter<Options>(factory: Omit<AdapterFactory<Options>, 'kind'>): AdapterFactory<Options> {
  return { kind: 'adapter', ...factory };
}

export class Registry {
  readonly sources = new Map<string, SourceFactory>();
  readonly adapters = new Map<string, AdapterFactory>();

  /** Adds a factory; a clash with a registered type is E_PLUGIN_LOAD naming `origin`. */
  register(factory: PluginFactory, origin = 'built-in'): this {
    const map: Map<string, PluginFactory> = factory.kind === 'source' ? this.sources : this.adapters;
    if (typeof factory.type !== 'string' || factory.type === '') {
      throw new FailsafeError('E_PLUGIN_LOAD', `plugin ${origin} has no type name`);
    }
    if (map.has(factory.type)) {
      throw new FailsafeError('E_PLUGIN_LOAD', `plugin ${origin}: ${factory.kind} type "${factory.type}" is already registered`);
    }
    map.set(factory.type, factory);
    return this;
  }

  source(type: string): SourceFactory {
    const factory = this.sources.get(type);
    if (!factory) throw new FailsafeError('E_UNKNOWN_TYPE', `unknown source type "${type}" (known: ${[...this.sources.keys()].join(', ')})`);
    return factory;
  }

  adapter(type: string): AdapterFactory {
    const factory = this.adapters.get(type);
    if (!factory) throw new FailsafeError('E_UNKNOWN_TYPE', `unknown target type "${type}" (known: ${[...this.adapters.keys()].join(', ')})`);
    return factory;
  }
}
