/**
 * The shape of a deployment's YAML. Source and target options are checked
 * here only for `type` (and `name`); each type validates the rest with its
 * own schema from the registry (core/config/load.ts).
 */
import { z } from 'zod';
import { SOURCE_ERROR_MODES, type OnSourceError } from '../backup/source-errors.js';
import { parsePublicKey } from '../crypto/identity.js';
import { parseSigningKey } from '../crypto/signing.js';
import type { FailsafeError } from '../errors.js';
import { VERIFY_UPLOADS, type VerifyUploads } from '../repository/read-back.js';
import type { Registry } from '../sdk/registry.js';
import { daemonKeys, fixedDurationSchema, jobAutomationKeys, timeZoneSchema, type JobAutomation } from './automation.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME_PATTERN, 'use letters, digits, ".", "_" and "-", starting with a letter or digit');

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };
export const DEFAULT_SEGMENT_SIZE = 4 * 1024 * 1024;
const MIN_SEGMENT = 1024 * 1024;
const MAX_SEGMENT = 256 * 1024 * 1024;

/** `8MiB`, `500KB`, `1048576` → bytes; undefined when unreadable. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const factor = UNITS[(match[2] || 'B').toUpperCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** A size option (`8MiB` or bytes) from `min` to `max`; `hint` is the message when it is not. */
export function sizeOption(min: number, max: number, hint: string) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes < min || bytes > max) {
      ctx.addIssue({ code: 'custom', message: hint });
      return z.NEVER;
    }
    return bytes;
  });
}

const segmentSize = sizeOption(MIN_SEGMENT, MAX_SEGMENT, 'expected a size from 1MiB to 256MiB, like 8MiB');

const sourceEntry = z.looseObject({ type: z.string().min(1), name: name.optional() });
// Common to every type, taken out before the type's own schema checks the rest (core/config/load.ts).
const verifyUploads = z.enum(VERIFY_UPLOADS, 'expected sample, all or off').optional();
const targetEntry = z.looseObject({ type: z.string().min(1), verifyUploads });

const keyText = (parse: (text: string) => unknown) =>
  z.string().superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
const publicKey = keyText((text) => parsePublicKey(text));

/** Who signs what this host writes, and whose signatures it trusts when it reads (docs/encryption.md, "Signed snapshots"). */
const signing = z
  .object({
    keyFile: z.string().min(1).optional(),
    trust: z.array(keyText(parseSigningKey)).min(1, 'list at least one public signing key (from failsafe keygen --signing)').optional(),
  })
  .strict();

const MISSING_ENCRYPTION =
  'missing: say how snapshots are protected, e.g. encryption: { keyFile: ./failsafe.key }, { passphrase: "${FAILSAFE_PASSPHRASE}" }, { recipients: [...] }, or encryption: none';

const encryption = z.union(
  [
    z.literal('none'),
    z
      .object({
        passphrase: z.string().min(1, 'the passphrase is empty').optional(),
        keyFile: z.string().min(1).optional(),
        recipients: z.array(publicKey).min(1, 'list at least one public key (from failsafe keygen --asymmetric)').optional(),
        kdf: z.enum(['moderate', 'interactive']).optional(),
      })
      .strict()
      .refine(
        (e) => e.passphrase !== undefined || e.keyFile !== undefined || e.recipients !== undefined,
        'give a passphrase, a keyFile, recipients, or several (or write encryption: none)',
      ),
  ],
  // Without it a missing key reads as zod's bare "Invalid input".
  { error: (issue) => (issue.input === undefined ? MISSING_ENCRYPTION : undefined) },
);

const compression = z.object({ algorithm: z.enum(['zstd', 'gzip', 'brotli', 'none']).default('zstd'), level: z.number().int().optional() }).strict();

const job = z
  .object({
    sources: z.array(sourceEntry).min(1, 'a job needs at least one source'),
    targets: z.array(z.string()).min(1, 'a job needs at least one target'),
    // docs/configuration.md: a failing source fails the job, or is left out of the snapshot.
    onSourceError: z.enum(SOURCE_ERROR_MODES, 'expected fail or continue').default('fail'),
    // docs/restore.md: how long the `.pre-restore-*` copies of replaced live data are kept; forever without it.
    restore: z.object({ keepPrevious: fixedDurationSchema.optional() }).strict().optional(),
    ...jobAutomationKeys,
  })
  .strict();

// Packs from 1 MiB (many small objects) to 128 MiB (a lot to repack); docs/design/dedup.md measures the default.
const repository = z
  .object({
    format: z.union([z.literal(1), z.literal(2)], 'expected 1 (a full archive per snapshot) or 2 (deduplicating)').default(1),
    packSize: sizeOption(1024 * 1024, 128 * 1024 * 1024, 'expected a size from 1MiB to 128MiB, like 16MiB').optional(),
  })
  .strict();

const checkpoints = z
  .object({
    target: name,
    keep: z.number().int().min(1).max(1000).default(10),
  })
  .strict();

/** `host:port` or `[v6]:port` the web dashboard listens on (docs/ui.md); which hosts it may be is `failsafe ui`'s check. */
export const LISTEN_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url), as `failsafe ui --hash-password` prints it. */
export const PASSWORD_HASH_PATTERN = /^scrypt\$(1[4-9]|20)\$([1-9]\d?)\$([1-9])\$[A-Za-z0-9_-]{22,88}\$[A-Za-z0-9_-]{43}$/;
const ui = z
  .object({
    listen: z.string().regex(LISTEN_PATTERN, 'expected host:port, like 127.0.0.1:8740').default('127.0.0.1:8740'),
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
    passwordHash: z.string().regex(PASSWORD_HASH_PATTERN, 'expected what `failsafe ui --hash-password` prints (scrypt$…)').optional(),
  })
  .strict();

export const configSchema = z
  .object({
    version: z.literal(1, 'this Failsafe reads version: 1'),
    plugins: z.array(z.string().min(1)).default([]),
    targets: z.record(name, targetEntry),
    encryption,
    signing: signing.optional(),
    // zstd compresses ~4× and decompresses ~6× faster than brotli 4 at the same size (docs/performance.md).
    compression: compression.default({ algorithm: 'zstd' }),
    segmentSize: segmentSize.optional(),
    repository: repository.optional(),
    parallelism: z.number().int().min(1).max(64).optional(),
    checkpoints: checkpoints.optional(),
    timeZone: timeZoneSchema.optional(),
    ...daemonKeys,
    ui: ui.optional(),
    jobs: z.record(name, job),
  })
  .strict();

export type RawConfig = z.output<typeof configSchema>;

export type EncryptionConfig =
  | { mode: 'none' }
  | {
      mode: 'keys';
      passphrase?: string;
      keyFile?: string;
      recipients?: string[];
      /** Argon2id limits of new passphrase slots: `moderate` (default, 256 MiB) or `interactive` (64 MiB, small devices). */
      kdf?: 'moderate' | 'interactive';
      /**
       * Set when the passphrase's variable is missing: raised only when a key
       * is needed, so `list` and `config validate --no-env`-like reads work
       * without the secret in the environment.
       */
      passphraseError?: FailsafeError;
    };
export interface CompressionConfig {
  algorithm: 'zstd' | 'gzip' | 'brotli' | 'none';
  level: number;
}
export interface SourceConfig {
  type: string;
  name: string;
  options: Record<string, unknown>;
}
export interface TargetConfig {
  type: string;
  options: Record<string, unknown>;
  /** Whether puts are read back before they count as stored (core/repository/read-back.ts); `sample` when absent. */
  verifyUploads?: VerifyUploads;
}
export interface JobConfig extends JobAutomation {
  name: string;
  sources: SourceConfig[];
  targets: string[];
  /** `continue`: a source that fails before its first entry is left out of the snapshot and reported; the others are backed up. */
  onSourceError: OnSourceError;
  /** `restore.keepPrevious`: `.pre-restore-*` copies older than this are removed by the next restore and by prune; kept forever when absent. */
  keepPreviousMs?: number;
}
export interface FailsafeConfig {
  version: 1;
  plugins: string[];
  targets: Record<string, TargetConfig>;
  encryption: EncryptionConfig;
  /** The key new snapshots are signed with (absolute), and the public signing keys a reader trusts. */
  signing: { keyFile?: string; trust?: string[] };
  compression: CompressionConfig;
  segmentSize: number;
  /** Format 2 deduplicates: content-defined chunks in packs, shared by every snapshot of a target (docs/design/dedup.md). */
  repository: { format: 1 | 2; packSize?: number };
  parallelism?: number;
  /** Where checkpoints live; without it, a backup keeps its progress in the job's first target. */
  checkpoints?: { target: string; keep: number };
  /** IANA zone for retention buckets and schedules; the machine's zone when absent. */
  timeZone?: string;
  /** Cron schedules of prune and drill in `failsafe daemon`. */
  schedules: { prune?: string; drill?: string };
  /** The daemon's record of last runs (absolute). */
  stateFile: string;
  /** The web dashboard's address (`failsafe ui`); absent when the YAML has no `ui:`. */
  ui?: UiConfig;
  jobs: Record<string, JobConfig>;
}

/** The dashboard's `ui:` (docs/ui.md): its address, its TLS files (absolute), the hash of its password. */
export interface UiConfig {
  listen: string;
  tls?: { cert: string; key: string };
  passwordHash?: string;
}

/** JSON Schema for editors, with the options of every registered source and target type. */
export function buildJsonSchema(registry: Registry): Record<string, unknown> {
  const typed = (type: string, options: z.ZodType, extra: Record<string, z.ZodType>): z.ZodType =>
    options instanceof z.ZodObject ? options.extend({ type: z.literal(type), ...extra }) : z.looseObject({ type: z.literal(type), ...extra });
  const sources = [...registry.sources.values()].map((f) => typed(f.type, f.optionsSchema, { name: name.optional() }));
  const targets = [...registry.adapters.values()].map((f) => typed(f.type, f.optionsSchema, { verifyUploads }));
  const union = (items: z.ZodType[], fallback: z.ZodType): z.ZodType => z.union([fallback, ...items] as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  const editorSchema = configSchema.extend({
    targets: z.record(name, union(targets, targetEntry)),
    jobs: z.record(name, job.extend({ sources: z.array(union(sources, sourceEntry)).min(1) })),
    segmentSize: z.union([z.number().int(), z.string()]).optional(),
    repository: repository.extend({ packSize: z.union([z.number().int(), z.string()]).optional() }).optional(),
  });
  const json = z.toJSONSchema(editorSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  excludeKnownTypesFromFallback(json);
  return { ...json, title: 'Failsafe deployment configuration' };
}

/**
 * The fallback branch (a plugin's own type) must not match a built-in type,
 * or an editor would accept a typo in a built-in's options through it.
 */
function excludeKnownTypesFromFallback(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const anyOf = (node as { anyOf?: unknown }).anyOf;
  if (Array.isArray(anyOf) && anyOf.length > 1) {
    type Branch = { properties?: { type?: { const?: string; not?: unknown } } };
    const branches = anyOf as Branch[];
    const known = branches.slice(1).map((b) => b.properties?.type?.const);
    const fallbackType = branches[0]?.properties?.type;
    if (fallbackType && fallbackType.const === undefined && known.every((k) => typeof k === 'string')) fallbackType.not = { enum: known };
  }
  for (const value of Object.values(node)) excludeKnownTypesFromFallback(value);
}
