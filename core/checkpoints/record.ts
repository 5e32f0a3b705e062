/**
 * One checkpoint record: its shape, its key, and the checks a record passes
 * before it is written and after it is read back.
 *
 *   checkpoints/<operation id>/<sequence:12>.json
 */
import { FailsafeError } from '../errors.js';

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
export function newCheckpoint<D>(input: CheckpointInput<D>, sequence: number): Checkpoint<D> {
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
  };
}

export function recordKey(operationId: string, sequence: number): string {
  return `${CHECKPOINTS_PREFIX}${operationId}/${String(sequence).padStart(SEQUENCE_DIGITS, '0')}.json`;
}

export function sequenceOf(key: string): number | undefined {
  const match = /\/(\d{12})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** The checkpoint stored under `key`; throws when the text is not one, or is one saved under another key. */
export function parseRecord(text: string, key: string): Checkpoint {
  const parsed = JSON.parse(text) as Checkpoint;
  if (!isCheckpoint(parsed) || recordKey(parsed.operationId, parsed.sequence) !== key) throw new Error('not a checkpoint record');
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
