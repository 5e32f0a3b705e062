/**
 * The composition root. One function builds a deployment's container for
 * Failsafe.open and Failsafe.fromConfig alike; every stage and collaborator
 * is registered here under an explicit token (api/tokens.ts) and resolved
 * from here, per job through a child container. Plugins and adapters stay
 * plain classes: the container only chooses and wires them.
 */
import 'reflect-metadata';
import { join } from 'node:path';
import { container as rootContainer, inject, injectable, type DependencyContainer } from 'tsyringe';
import { systemClock, type Clock } from '../core/automation/scheduler.js';
import { createNotifier } from '../core/automation/notify.js';
import { catalogOf, DEFAULT_CHECKSUM, type PipelineStages, type StageCatalog } from '../core/codec/stages.js';
import type { SourcePlugin } from '../core/contracts.js';
import type { Encryption, IdentitySource } from '../core/crypto/encryption.js';
import type { TrustPolicy } from '../core/crypto/signing.js';
import type { JobConfig, LoadedConfig } from '../core/config/load.js';
import { FailsafeError } from '../core/errors.js';
import type { Registry } from '../core/sdk/registry.js';
import { verifyUploadsFor, withReadBack } from '../core/repository/read-back.js';
import { withRetry } from '../core/repository/retry.js';
import { RetryCounter } from '../core/repository/retry-counts.js';
import type { Timeouts } from '../core/repository/timeouts.js';
import { Repository } from '../core/repository/repository.js';
import { Storage } from '../core/repository/storage.js';
import { filteredOptions, type SourceFilters } from './source-filters.js';
import { TOKENS, type NotifierFactory, type StorageWrapper, type Warn } from './tokens.js';

/** Replaces stages or collaborators: called on the deployment's container, then on each job's child container. */
export type Configure = (container: DependencyContainer, scope: { job?: string }) => void;

export interface DeploymentOptions {
  warn?: Warn;
  identity?: IdentitySource | undefined;
  trust?: ReadingTrust | undefined;
  configure?: Configure | undefined;
  /** Over every remote target's own (`--timeout`). */
  timeouts?: Timeouts | undefined;
}

/** What a reader was told on its command line of whose signatures to accept. */
export interface ReadingTrust {
  /** Public signing keys (`failsafe-sig1-…`), added to the YAML's `signing.trust`. */
  keys?: string[];
  /** Read unsigned and untrusted snapshots too. */
  allowUnsigned?: boolean;
}

/** The private identity and reading trust, when the caller gave them (a container holds no undefined values). */
export interface KeyHolder {
  identity?: IdentitySource;
  trust?: ReadingTrust;
}

/** Warnings go to stderr unless the caller (the CLI) shows them its own way. */
const stderrWarn: Warn = (message) => void process.stderr.write(`warning: ${message}\n`);

export function createDeploymentContainer(loaded: LoadedConfig, registry: Registry, options: DeploymentOptions = {}): DependencyContainer {
  const c = rootContainer.createChildContainer();
  c.registerInstance(TOKENS.Config, loaded);
  c.registerInstance(TOKENS.Registry, registry);
  c.registerInstance<Warn>(TOKENS.Warn, options.warn ?? stderrWarn);
  c.registerInstance<Clock>(TOKENS.Clock, systemClock);
  c.registerInstance<KeyHolder>(TOKENS.Identity, {
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.trust ? { trust: options.trust } : {}),
  });
  c.registerInstance(TOKENS.Compression, { algorithm: loaded.config.compression.algorithm, level: loaded.config.compression.level });
  c.registerInstance(TOKENS.Checksum, DEFAULT_CHECKSUM);
  c.registerInstance(TOKENS.Cipher, {});
  c.registerInstance<StorageWrapper[]>(TOKENS.StorageWrappers, []);
  c.registerInstance<NotifierFactory>(TOKENS.Notifier, createNotifier);
  c.registerInstance(TOKENS.RetryCounter, new RetryCounter());
  c.registerInstance<Timeouts>(TOKENS.Timeouts, options.timeouts ?? {});
  c.registerInstance<Configure>(TOKENS.ConfigureJob, options.configure ?? ((): void => undefined));
  c.registerInstance(TOKENS.Container, c);
  c.registerSingleton(Deployment);
  options.configure?.(c, {});
  return c;
}

/** A deployment as the facade's operations use it: its configuration, targets, jobs and stages, all from the container. */
@injectable()
export class Deployment {
  readonly #storages = new Map<string, Storage>();
  readonly #jobs = new Map<string, DependencyContainer>();
  readonly #encryption = new Map<'seal' | 'open', Promise<Encryption>>();

  constructor(
    @inject(TOKENS.Config) readonly loaded: LoadedConfig,
    @inject(TOKENS.Registry) readonly registry: Registry,
    @inject(TOKENS.Warn) readonly warn: Warn,
    @inject(TOKENS.Clock) readonly clock: Clock,
    @inject(TOKENS.Identity) readonly keys: KeyHolder,
    @inject(TOKENS.StorageWrappers) readonly wrappers: StorageWrapper[],
    @inject(TOKENS.Notifier) readonly notifier: NotifierFactory,
    @inject(TOKENS.ConfigureJob) readonly configure: Configure,
    @inject(TOKENS.RetryCounter) readonly retries: RetryCounter,
    @inject(TOKENS.Timeouts) readonly timeouts: Timeouts,
    @inject(TOKENS.Container) readonly container: DependencyContainer,
  ) {}

  /** The deployment's own state beside its YAML (files cache, restore journals, seen snapshots): never part of a source. */
  get stateDir(): string {
    return join(this.loaded.dir, '.failsafe');
  }

  get config(): LoadedConfig['config'] {
    return this.loaded.config;
  }

  jobNames(): string[] {
    return Object.keys(this.loaded.config.jobs);
  }

  job(name: string): JobConfig {
    const job = this.loaded.config.jobs[name];
    if (!job) throw new FailsafeError('E_UNKNOWN_JOB', `no job "${name}" in ${this.loaded.file} (jobs: ${this.jobNames().join(', ')})`);
    return job;
  }

  /** The job's child container: its stages, and whatever `configure` registered for it alone. */
  scope(name: string): DependencyContainer {
    let scope = this.#jobs.get(name);
    if (!scope) {
      scope = this.container.createChildContainer();
      scope.registerInstance(TOKENS.Job, this.job(name));
      this.configure(scope, { job: name });
      this.#jobs.set(name, scope);
    }
    return scope;
  }

  /** The compression, checksum and cipher a job's backups use (and its snapshots are read with). */
  stages(job: string): PipelineStages {
    const scope = this.scope(job);
    return { compression: scope.resolve(TOKENS.Compression), checksum: scope.resolve(TOKENS.Checksum), cipher: scope.resolve(TOKENS.Cipher) };
  }

  /** How to read a job's snapshots: with the stages it registered (built-in names need none). */
  catalog(job: string): StageCatalog {
    return catalogOf(this.stages(job));
  }

  /** The job's sources; `filters` (backup --exclude/--include) add to its directory sources' own, and the deployment's state folder is left out. */
  sources(job: JobConfig, filters: SourceFilters = {}): SourcePlugin[] {
    return job.sources.map((source) => this.registry.source(source.type).create(filteredOptions(source, filters, this.stateDir), source.name));
  }

  /** A target, created once and shared, its adapter inside the registered wrappers. */
  storage(target: string): Storage {
    let storage = this.#storages.get(target);
    if (!storage) {
      const config = this.loaded.config.targets[target];
      if (!config) throw new FailsafeError('E_UNKNOWN_TARGET', `no target "${target}" in ${this.loaded.file}`);
      const factory = this.registry.adapter(config.type);
      // Every layer that tries a transfer again counts it in the one counter: the adapter's own retries, the wrapper's,
      // the read-back's and (through the Storage facade) the reader's fetches again.
      const counted = this.retries.count;
      const adapter = factory.create(config.options, target, { warn: this.warn, retried: counted, timeouts: this.timeouts });
      // Registered wrappers sit between the adapter and the retry (core/repository/retry.ts): a fault one injects is
      // met as a real adapter's would be.
      const wrapped = this.wrappers.reduce((inner, wrap) => wrap(inner, target), adapter);
      // The read-back sits outside the retry, whose transient retries its reads share.
      const onMismatch = (key: string, problem: string) => this.warn(`target "${target}": put ${key}: read back, ${problem}; putting it again`);
      const verifyUploads = config.verifyUploads ?? verifyUploadsFor(wrapped.capabilities);
      storage = new Storage(withReadBack(withRetry(wrapped, factory.retry, counted), verifyUploads, { onMismatch, counted }), target, this.retries);
      this.#storages.set(target, storage);
    }
    return storage;
  }

  /** A target as a repository of snapshots: its key layout, listing, deletion, locks and checkpoints. */
  repository(target: string): Repository {
    return new Repository(this.storage(target));
  }

  targetsOf(job: JobConfig): Storage[] {
    return job.targets.map((target) => this.storage(target));
  }

  /** A host holding only public keys (`encryption: { recipients }`) and given no identity: it cannot open a snapshot. */
  get needsIdentity(): boolean {
    const e = this.config.encryption;
    return e.mode === 'keys' && e.passphrase === undefined && e.keyFile === undefined && this.keys.identity === undefined;
  }

  /** The same deployment with a private identity besides (held by whoever gives it), with targets and keys of its own. */
  withIdentity(identity: IdentitySource): Deployment {
    const keys = { ...this.keys, identity };
    const { loaded, registry, warn, clock, wrappers, notifier, configure, retries, timeouts, container } = this;
    return new Deployment(loaded, registry, warn, clock, keys, wrappers, notifier, configure, retries, timeouts, container);
  }

  /**
   * The deployment's keys. A missing passphrase variable stops sealing (the
   * snapshot would lack its passphrase slot) but not opening with an identity.
   * The identity is read only to open: a backup never needs the private key.
   */
  encryption(purpose: 'seal' | 'open' = 'seal'): Promise<Encryption> {
    const config = this.loaded.config.encryption;
    const identity = purpose === 'open' ? this.keys.identity : undefined;
    if (config.mode === 'keys' && config.passphraseError && identity === undefined) return Promise.reject(config.passphraseError);
    let encryption = this.#encryption.get(purpose);
    if (encryption === undefined) {
      // A backup signs; a reader checks. Each gets only its half, so a reader never needs the signing key's file.
      const { keyFile } = this.loaded.config.signing;
      const signing = purpose === 'seal' ? { ...(keyFile ? { keyFile } : {}) } : this.#readingTrust();
      encryption = import('../core/crypto/encryption.js').then(({ createEncryption }) => createEncryption(config, identity, signing));
      this.#encryption.set(purpose, encryption);
    }
    return encryption;
  }

  /** The signing keys a reader trusts (the YAML's and the caller's), and whether it reads what none of them signed. */
  #readingTrust(): { trust: string[]; allowUnsigned: boolean } {
    return { trust: [...(this.loaded.config.signing.trust ?? []), ...(this.keys.trust?.keys ?? [])], allowUnsigned: this.keys.trust?.allowUnsigned === true };
  }

  /** What `latest` must be signed by; undefined when nothing is required. */
  async trustPolicy(): Promise<TrustPolicy | undefined> {
    const { trustPolicy } = await import('../core/crypto/signing.js');
    const { trust, allowUnsigned } = this.#readingTrust();
    return trustPolicy(trust, allowUnsigned);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#storages.values()].map((storage) => storage.close()));
    this.#storages.clear();
  }
}
