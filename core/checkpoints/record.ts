/**
 * One checkpoint record: its shape, its key, and the checks a record passes
 * before it is written and after it is read back.
 *
 *   checkpoints/<operation id>/<sequence:12>.json
 */
import { createHash } from 'node:crypto';
import { FailsafeError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import type { ErrorLog, ErrorStats } from './error-history.js';

export const CHECKPOINT_STATES = ['initialized', 'running', 'paused', 'completed', 'failed', 'recovering'] as const;
export type CheckpointState = (typeof CHECKPOINT_STATES)[number];

export interface Checkpoint<D = Record<string, unknown>> {
  /** `<operation id>/<sequence>`: what `load` takes. */
  checkpointId: string;
  operationId: string;
  operationName: string;
  state: CheckpointState;
  /** 0..1 */
  progress: number;
  data: D;
  metadata: Record<string, unknown>;
  /** ISO 8601, when it was saved. */
  timestamp: string;
  /** Increases by one with each save of the operation. */
  sequence: number;
  /** The operation's error history so far (./error-history.ts); absent while it never failed. */
  errors?: ErrorLog;
}

export interface CheckpointInput<D = Record<string, unknown>> {
  operationId: string;
  operationName: string;
  state: CheckpointState;
  progress: number;
  data?: D;
  metadata?: Record<string, unknown>;
}

export interface OperationSummary {
  operationId: string;
  operationName: string;
  state: CheckpointState;
  progress: number;
  timestamp: string;
  checkpointId: string;
  /** The counts of the operation's error history, when it has one. */
  errors?: ErrorStats;
}

export const CHECKPOINTS_PREFIX = 'checkpoints/';
const OPERATION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SEQUENCE_DIGITS = 12;

export function checkOperationId(id: string): void {
  if (typeof id !== 'string' || !OPERATION_ID.test(id) || id.length > 200) {
    throw new FailsafeError('E_USAGE', `invalid operation id "${id}": use letters, digits, ".", "_" and "-", starting with a letter or digit`);
  }
}

/** What a save refuses: an operation id that cannot be a key, an unknown state, progress outside 0..1. */
export function checkInput(input: CheckpointInput<unknown>): void {
  checkOperationId(input.operationId);
  if (!CHECKPOINT_STATES.includes(input.state)) throw new FailsafeError('E_USAGE', `unknown checkpoint state "${String(input.state)}"`);
  if (!(input.progress >= 0 && input.progress <= 1)) throw new FailsafeError('E_USAGE', `progress must be from 0 to 1, not ${input.progress}`);
}

/** The record a save writes as number `sequence` of its operation. */
export function newCheckpoint<D>(input: CheckpointInput<D>, sequence: number, errors?: ErrorLog): Checkpoint<D> {
  return {
    checkpointId: `${input.operationId}/${sequence}`,
    operationId: input.operationId,
    operationName: input.operationName,
    state: input.state,
    progress: input.progress,
    data: input.data ?? ({} as D),
    metadata: input.metadata ?? {},
    timestamp: new Date().toISOString(),
    sequence,
    ...(errors && errors.stats.total > 0 ? { errors } : {}),
  };
}

export function recordKey(operationId: string, sequence: number): string {
  return `${CHECKPOINTS_PREFIX}${operationId}/${String(sequence).padStart(SEQUENCE_DIGITS, '0')}.json`;
}

export function sequenceOf(key: string): number | undefined {
  const match = /\/(\d{12})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/**
 * A checkpoint's stored bytes: its JSON with the SHA-256 of that JSON beside
 * it, so a record damaged on the way (a plain-HTTP S3 endpoint checks
 * nothing on a download) or at rest is told from a good one, and fetched again.
 */
export function encodeRecord<D>(checkpoint: Checkpoint<D>): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.from(JSON.stringify({ ...checkpoint, sha256: sha256Of(checkpoint) }));
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

const sha256Of = <D>(checkpoint: Checkpoint<D>): string => createHash('sha256').update(JSON.stringify(checkpoint)).digest('hex');

/**
 * The checkpoint stored under `key`; throws when the text is not one, is one
 * saved under another key, or does not match its SHA-256 (records written
 * before it was added have none, and are taken as they are).
 */
export function parseRecord(text: string, key: string): Checkpoint {
  const { sha256, ...parsed } = JSON.parse(text) as Checkpoint & { sha256?: unknown };
  if (!isCheckpoint(parsed) || recordKey(parsed.operationId, parsed.sequence) !== key) throw new Error('not a checkpoint record');
  if (sha256 !== undefined && sha256 !== sha256Of(parsed)) throw new Error('its SHA-256 does not match: the record is damaged');
  return parsed;
}

export function summarize(c: Checkpoint): OperationSummary {
  return {
    operationId: c.operationId,
    operationName: c.operationName,
    state: c.state,
    progress: c.progress,
    timestamp: c.timestamp,
    checkpointId: c.checkpointId,
    ...(c.errors ? { errors: c.errors.stats } : {}),
  };
}

function isCheckpoint(value: unknown): value is Checkpoint {
  const c = value as Partial<Checkpoint> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.operationId === 'string' &&
    typeof c.operationName === 'string' &&
    CHECKPOINT_STATES.includes(c.state as CheckpointState) &&
    typeof c.progress === 'number' &&
    Number.isInteger(c.sequence) &&
    typeof c.timestamp === 'string' &&
    typeof c.data === 'object' &&
    typeof c.metadata === 'object'
  );
}

/** A record, fetched again (from a remote store) while it fails its check; undefined when gone, or damaged on every try (with a warning). */
export async function readRecord(storage: Storage, warn: (message: string) => void, key: string): Promise<Checkpoint | undefined> {
  try {
    return await storage.readAgain(async () => {
      const text = (await storage.getBuffer(key)).toString('utf8');
      try {
        return parseRecord(text, key);
      } catch (err) {
        throw new FailsafeError('E_CHECKSUM', err instanceof Error ? err.message : String(err), { cause: err });
      }
    });
  } catch (err) {
    if (err instanceof FailsafeError && err.code === 'E_NOT_FOUND') return undefined;
    if (!(err instanceof FailsafeError && err.code === 'E_CHECKSUM')) throw err;
    warn(`checkpoint ${storage.targetName}:${key} is unreadable and was skipped (${err.message})`);
    return undefined;
  }
}
