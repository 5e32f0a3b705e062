/**
 * The pipeline's replaceable stages — compression, cipher, checksum — as
 * plain data. The CPU work runs in worker threads (core/pipeline/segment-worker.ts),
 * which cannot receive functions or class instances: a stage that is not
 * built in travels as a module to import and the name of the factory it
 * exports, and each worker builds its own instance from it. The composition
 * root (api/container.ts) chooses the stages per job; a snapshot records the
 * compression algorithm and checksum names, and reading it finds the same
 * implementations again through the job's container.
 */
import { FailsafeError } from '../errors.js';

/** A factory a worker thread imports: `module` is a file URL or a package specifier, `export` the name of the function. */
export interface StageModule {
  module: string;
  export: string;
}

/**
 * The compression stage. Built in: `zstd`, `gzip`, `brotli`, `none`. Any
 * other `algorithm` needs `implementation`, a factory `(level: number) =>
 * SegmentCodec` (core/contracts.ts); the name is recorded in each snapshot.
 */
export interface CompressionStage {
  algorithm: string;
  level: number;
  implementation?: StageModule;
}

/**
 * The checksum of every stored object. Built in: `sha256` (the format's
 * default, not recorded). Another needs `implementation`, a factory
 * `() => Checksum`; its name is recorded in each snapshot.
 */
export interface ChecksumStage {
  name: string;
  implementation?: StageModule;
}

/** The cipher's implementation: a factory `(name: string, key?: Uint8Array) => SegmentCipher`; absent for the built-in ones. */
export interface CipherStage {
  implementation?: StageModule;
}

/** What a worker needs to rebuild a snapshot's stages: plain data, so it crosses a thread boundary (core/codec/stages.ts). */
export interface SegmentCodecSpec {
  compression: CompressionStage;
  /** The segment cipher's name and, unless it is `none`, its 32-byte key; `implementation` for a cipher that is not built in. */
  cipher: { name: string; key?: Uint8Array; implementation?: StageModule };
  /** The stored objects' checksum; SHA-256 when absent. */
  checksum?: ChecksumStage;
}

/** The stages of one job's pipeline, as the composition root chose them. */
export interface PipelineStages {
  compression: CompressionStage;
  checksum: ChecksumStage;
  cipher: CipherStage;
}

export const DEFAULT_CHECKSUM: ChecksumStage = { name: 'sha256' };

/** Loads a stage's factory; a module that does not export a function by that name is a configuration error. */
export async function loadStage<F extends (...args: never[]) => unknown>(stage: StageModule, role: string): Promise<F> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(stage.module)) as Record<string, unknown>;
  } catch (err) {
    throw new FailsafeError('E_CONFIG', `the ${role} module ${stage.module} could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const factory = loaded[stage.export];
  if (typeof factory !== 'function') throw new FailsafeError('E_CONFIG', `the ${role} module ${stage.module} exports no function "${stage.export}"`);
  return factory as F;
}

/**
 * What a snapshot needs to be read back with the stages that wrote it: the
 * implementation registered for its compression algorithm or checksum name,
 * when that is not a built-in one.
 */
export interface StageCatalog {
  compression(algorithm: string): StageModule | undefined;
  checksum(name: string): StageModule | undefined;
  cipher(): StageModule | undefined;
}

export const BUILTIN_STAGES: StageCatalog = { compression: () => undefined, checksum: () => undefined, cipher: () => undefined };

/** A catalog of one job's chosen stages: a snapshot written with them is read with them. */
export function catalogOf(stages: PipelineStages): StageCatalog {
  return {
    compression: (algorithm) => (algorithm === stages.compression.algorithm ? stages.compression.implementation : undefined),
    checksum: (name) => (name === stages.checksum.name ? stages.checksum.implementation : undefined),
    cipher: () => stages.cipher.implementation,
  };
}

/** The plain-data description of a job's stages that its worker threads build their instances from. */
export function segmentSpec(stages: PipelineStages, cipherName: string, key: Uint8Array | undefined): SegmentCodecSpec {
  const { compression, checksum, cipher } = stages;
  return {
    compression,
    cipher: { name: cipherName, ...(key ? { key } : {}), ...(cipher.implementation ? { implementation: cipher.implementation } : {}) },
    ...(checksum.name === DEFAULT_CHECKSUM.name ? {} : { checksum }),
  };
}

/** The built-in stages for a compression algorithm and level: what a job gets unless its container says otherwise. */
export function builtinStages(algorithm: string, level: number): PipelineStages {
  return { compression: { algorithm, level }, checksum: DEFAULT_CHECKSUM, cipher: {} };
}
