/**
 * Dependency injection stays at the edge: plugins and adapters are plain
 * classes; this container wires them from one loaded YAML file through
 * explicit tokens, so nothing relies on emitted decorator metadata.
 */
import 'reflect-metadata';
import { container as rootContainer, inject, injectable, type DependencyContainer } from 'tsyringe';
import type { SourcePlugin } from '../core/contracts.js';
import type { JobConfig, LoadedConfig } from '../core/config/load.js';
import { FailsafeError } from '../core/errors.js';
import type { AdapterContext, Registry } from '../core/sdk/registry.js';
import { withRetry } from '../core/repository/retry.js';
import { Storage } from '../core/repository/storage.js';

export const TOKENS = {
  Config: Symbol.for('failsafe.Config'),
  Registry: Symbol.for('failsafe.Registry'),
  AdapterContext: Symbol.for('failsafe.AdapterContext'),
} as const;

/** Builds the sources and targets the YAML describes. Targets are created once and shared. */
@injectable()
export class Wiring {
  readonly #storages = new Map<string, Storage>();

  constructor(
    @inject(TOKENS.Config) readonly loaded: LoadedConfig,
    @inject(TOKENS.Registry) readonly registry: Registry,
    @inject(TOKENS.AdapterContext) readonly adapterContext: AdapterContext,
  ) {}

  jobNames(): string[] {
    return Object.keys(this.loaded.config.jobs);
  }

  job(name: string): JobConfig {
    const job = this.loaded.config.jobs[name];
    if (!job) throw new FailsafeError('E_UNKNOWN_JOB', `no job "${name}" in ${this.loaded.file} (jobs: ${this.jobNames().join(', ')})`);
    return job;
  }

  sources(job: JobConfig): SourcePlugin[] {
    return job.sources.map((source) => this.registry.source(source.type).create(source.options, source.name));
  }

  storage(target: string): Storage {
    let storage = this.#storages.get(target);
    if (!storage) {
      const config = this.loaded.config.targets[target];
      if (!config) throw new FailsafeError('E_UNKNOWN_TARGET', `no target "${target}" in ${this.loaded.file}`);
      const factory = this.registry.adapter(config.type);
      storage = new Storage(withRetry(factory.create(config.options, target, this.adapterContext), factory.retry), target);
      this.#storages.set(target, storage);
    }
    return storage;
  }

  targetsOf(job: JobConfig): Storage[] {
    return job.targets.map((target) => this.storage(target));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#storages.values()].map((storage) => storage.close()));
    this.#storages.clear();
  }
}

/** Warnings go to stderr unless the caller (the CLI) shows them its own way. */
const stderrWarn = (message: string): void => void process.stderr.write(`warning: ${message}\n`);

export function createContainer(loaded: LoadedConfig, registry: Registry, warn: (message: string) => void = stderrWarn): DependencyContainer {
  const child = rootContainer.createChildContainer();
  child.registerInstance(TOKENS.Config, loaded);
  child.registerInstance(TOKENS.Registry, registry);
  child.registerInstance<AdapterContext>(TOKENS.AdapterContext, { warn });
  child.registerSingleton(Wiring);
  return child;
}
