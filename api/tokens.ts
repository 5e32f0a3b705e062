/**
 * The composition root's tokens: every stage and collaborator a deployment
 * uses is resolved through one of these, so a user or a test replaces it by
 * registering the token (OpenOptions.configure). Explicit symbols, no
 * emitted decorator metadata.
 */
import type { Clock } from '../core/automation/scheduler.js';
import type { JobNotify, Notifier } from '../core/automation/notify.js';
import type { ChecksumStage, CipherStage, CompressionStage } from '../core/codec/stages.js';
import type { StorageAdapter } from '../core/contracts.js';
import type { IdentitySource } from '../core/crypto/encryption.js';

export const TOKENS = {
  /** LoadedConfig: the validated YAML. */
  Config: Symbol.for('failsafe.Config'),
  /** Registry: source and adapter factories by type. */
  Registry: Symbol.for('failsafe.Registry'),
  /** Warn: where non-fatal problems go (stderr unless the caller says). */
  Warn: Symbol.for('failsafe.Warn'),
  /** Clock: time for schedules (core/automation/scheduler.ts). */
  Clock: Symbol.for('failsafe.Clock'),
  /** KeyHolder: the private identity, if any, that opens snapshots sealed for recipients. */
  Identity: Symbol.for('failsafe.Identity'),
  /** CompressionStage: per job; from the YAML's `compression` unless replaced. */
  Compression: Symbol.for('failsafe.Compression'),
  /** ChecksumStage: per job; SHA-256 unless replaced. */
  Checksum: Symbol.for('failsafe.Checksum'),
  /** CipherStage: per job; the built-in ciphers unless replaced. */
  Cipher: Symbol.for('failsafe.Cipher'),
  /** StorageWrapper[]: applied around every target's adapter, first innermost (retry, fault injection, metrics). */
  StorageWrappers: Symbol.for('failsafe.StorageWrappers'),
  /** NotifierFactory: builds a job's notifier from its `notify` settings. */
  Notifier: Symbol.for('failsafe.Notifier'),
  /** JobConfig: registered in a job's child container. */
  Job: Symbol.for('failsafe.Job'),
  /** The `configure` callback, called again on each job's child container. */
  ConfigureJob: Symbol.for('failsafe.ConfigureJob'),
  /** RetryCounter: counts every retry of the deployment's transfers (core/repository/retry-counts.ts). */
  RetryCounter: Symbol.for('failsafe.RetryCounter'),
  /** Timeouts: the run's `--timeout` overrides, handed to every adapter (core/repository/timeouts.ts). */
  Timeouts: Symbol.for('failsafe.Timeouts'),
  /** The container itself, so the deployment makes its jobs' child containers from it. */
  Container: Symbol.for('failsafe.Container'),
} as const;

/** Wraps a target's adapter: `target` is the target's name in the YAML. */
export type StorageWrapper = (adapter: StorageAdapter, target: string) => StorageAdapter;

/** `warn` is the backup's own (a failed delivery is a warning there); without it deliveries fail quietly, as before the container. */
export type NotifierFactory = (notify: JobNotify | undefined, warn?: (message: string) => void) => Notifier;

export type Warn = (message: string) => void;

export type { Clock, ChecksumStage, CipherStage, CompressionStage, IdentitySource };
