/**
 * Loading a deployment's YAML: parse with positions, interpolate `${VAR}`,
 * validate the structure and each source's and target's options, resolve
 * relative paths against the file's folder. Every problem is one line:
 * `<file>:<line>:<col>: <key.path>: <message>`.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parse as parseYaml, parseDocument, stringify as stringifyYaml, type Document } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_LEVELS, LEVEL_RANGE } from '../codec/compression.js';
import { errnoOf, FailsafeError } from '../errors.js';
import { DEFAULT_PATH_OPTIONS, type Registry } from '../sdk/registry.js';
import { pickDefined } from '../util/defined.js';
import { jobAutomation } from './automation.js';
import { interpolate } from './interpolate.js';
import { formatKeyPath, positionOf, type KeyPath } from './positions.js';
import { configSchema, DEFAULT_SEGMENT_SIZE, type FailsafeConfig, type JobConfig, type RawConfig, type SourceConfig, type TargetConfig } from './schema.js';

export type { FailsafeConfig, JobConfig, SourceConfig, TargetConfig } from './schema.js';

export interface LoadedConfig {
  file: string;
  dir: string;
  config: FailsafeConfig;
}

export interface LoadOptions {
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  /** Names the configuration in messages instead of `file:line:col` (a configuration given as an object has no lines). */
  label?: string;
}

/** Stands in for a value whose variable is missing but not needed yet. */
const DEFERRED = '<unset>';

/** The YAML text of a deployment, or E_CONFIG naming the file. */
export async function readConfigFile(file: string): Promise<string> {
  const path = resolve(file);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoOf(err);
    const why = code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? err})`;
    throw new FailsafeError('E_CONFIG', `${why}: ${displayPath(path)} (use -c to choose one)`, { cause: err });
  }
}

/**
 * The `plugins` listed in the text, resolved, read before validation (their
 * types must be registered first). Malformed YAML gives none here; parsing
 * reports it with its line.
 */
export function pluginSpecs(text: string, file: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return [];
  }
  const plugins = (doc as { plugins?: unknown } | null)?.plugins;
  if (!Array.isArray(plugins)) return [];
  return plugins.filter((p): p is string => typeof p === 'string').map((p) => resolvePluginSpec(p, dirname(resolve(file))));
}

/** A path (relative to the YAML's folder) or a package name. */
function resolvePluginSpec(spec: string, dir: string): string {
  return spec.startsWith('.') || isAbsolute(spec) ? resolve(dir, spec) : spec;
}

type ConfigErrorCode = 'E_CONFIG' | 'E_CONFIG_ENV' | 'E_UNKNOWN_TYPE' | 'E_UNKNOWN_TARGET';
/** Throws the error for the key at `at`, named by its line and column (or by the label of a configuration without lines). */
type Fail = (code: ConfigErrorCode, at: KeyPath, message: string) => never;

export function parseConfigText(text: string, file: string, options: LoadOptions): LoadedConfig {
  const path = resolve(file);
  const dir = dirname(path);
  const { doc, fail } = parseYamlDocument(text, displayPath(path), options.label);
  const passphraseError = interpolateEnv(doc, options.env ?? process.env, fail);
  const raw = validateStructure(doc, fail);
  const level = compressionLevel(raw, fail);
  const targets = buildTargets(raw, dir, options.registry, fail);
  const jobs: Record<string, JobConfig> = {};
  for (const [jobName, job] of Object.entries(raw.jobs)) jobs[jobName] = buildJob(jobName, job, targets, dir, options.registry, fail);
  if (raw.checkpoints && !(raw.checkpoints.target in targets)) {
    fail(
      'E_UNKNOWN_TARGET',
      ['checkpoints', 'target'],
      `no target "${raw.checkpoints.target}" under targets (defined: ${Object.keys(targets).join(', ') || 'none'})`,
    );
  }
  const config: FailsafeConfig = {
    version: 1,
    plugins: raw.plugins.map((p) => resolvePluginSpec(p, dir)),
    targets,
    encryption: encryptionOf(raw, dir, passphraseError),
    signing: { ...pickDefined({ trust: raw.signing?.trust }), ...(raw.signing?.keyFile ? { keyFile: resolvePath(raw.signing.keyFile, dir) } : {}) },
    compression: { algorithm: raw.compression.algorithm, level },
    segmentSize: raw.segmentSize ?? DEFAULT_SEGMENT_SIZE,
    repository: repositoryOf(raw, fail),
    ...(raw.parallelism === undefined ? {} : { parallelism: raw.parallelism }),
    ...(raw.checkpoints === undefined ? {} : { checkpoints: raw.checkpoints }),
    ...(raw.timeZone === undefined ? {} : { timeZone: raw.timeZone }),
    schedules: pickDefined({ prune: raw.schedules?.prune, drill: raw.schedules?.drill }),
    stateFile: resolvePath(raw.stateFile ?? '.failsafe-state.json', dir),
    ...(raw.ui === undefined
      ? {}
      : { ui: { ...raw.ui, ...(raw.ui.tls ? { tls: { cert: resolvePath(raw.ui.tls.cert, dir), key: resolvePath(raw.ui.tls.key, dir) } } : {}) } }),
    jobs,
  };
  return { file: options.label ?? path, dir, config };
}

/** The YAML with positions, and how to fail at one of its keys; a syntax error is thrown here. */
function parseYamlDocument(text: string, shown: string, label: string | undefined): { doc: Document; fail: Fail } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const fail: Fail = (code, at, message) => {
    const { line, col } = positionOf(doc, lines, at);
    const key = formatKeyPath(at);
    throw new FailsafeError(code, `${label ?? `${shown}:${line}:${col}`}: ${key ? `${key}: ` : ''}${message}`);
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = lines.linePos(syntax.pos[0]);
    throw new FailsafeError('E_CONFIG', `${shown}:${line}:${col}: ${syntax.message.split('\n')[0]}`);
  }
  return { doc, fail };
}

/**
 * Fills in `${VAR}`s; a missing one fails, except in the passphrase, which is
 * needed only to read or write data: its error is returned, to be reported then.
 */
function interpolateEnv(doc: Document, env: NodeJS.ProcessEnv, fail: Fail): FailsafeError | undefined {
  let passphraseError: FailsafeError | undefined;
  interpolate(doc, env, (at, message) => {
    if (formatKeyPath(at) !== 'encryption.passphrase') return fail('E_CONFIG_ENV', at, message);
    try {
      fail('E_CONFIG_ENV', at, message);
    } catch (err) {
      passphraseError ??= err as FailsafeError;
    }
    return DEFERRED;
  });
  return passphraseError;
}

function validateStructure(doc: Document, fail: Fail): RawConfig {
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail('E_CONFIG', issuePath(issue), describeIssue(issue));
  }
  return parsed.data!;
}

/** A deduplicating repository is always encrypted and compressed with zstd, which a reader needs no record of. */
function repositoryOf(raw: RawConfig, fail: Fail): FailsafeConfig['repository'] {
  const format = raw.repository?.format ?? 1;
  if (format === 2 && raw.encryption === 'none')
    fail('E_CONFIG', ['repository', 'format'], 'a deduplicating repository is always encrypted: configure encryption');
  if (format === 2 && raw.compression.algorithm !== 'zstd') {
    fail('E_CONFIG', ['compression', 'algorithm'], 'a deduplicating repository (repository.format 2) compresses with zstd');
  }
  return { format, ...(raw.repository?.packSize === undefined ? {} : { packSize: raw.repository.packSize }) };
}

function compressionLevel(raw: RawConfig, fail: Fail): number {
  const [min, max] = LEVEL_RANGE[raw.compression.algorithm];
  const level = raw.compression.level ?? DEFAULT_LEVELS[raw.compression.algorithm];
  if (level < min || level > max) fail('E_CONFIG', ['compression', 'level'], `${raw.compression.algorithm} levels go from ${min} to ${max}`);
  return level;
}

function buildTargets(raw: RawConfig, dir: string, registry: Registry, fail: Fail): Record<string, TargetConfig> {
  const targets: Record<string, TargetConfig> = {};
  for (const [name, target] of Object.entries(raw.targets)) {
    const { type, verifyUploads, ...rest } = target;
    const factory = registry.adapters.get(type);
    if (!factory) fail('E_UNKNOWN_TYPE', ['targets', name, 'type'], `unknown target type "${type}" (known: ${[...registry.adapters.keys()].join(', ')})`);
    const opts = validateOptions(factory!.optionsSchema, resolvePaths(rest, dir, factory!.pathOptions), ['targets', name], fail);
    targets[name] = { type, options: opts, ...(verifyUploads ? { verifyUploads } : {}) };
  }
  return targets;
}

type RawJob = RawConfig['jobs'][string];

function buildJob(jobName: string, job: RawJob, targets: Record<string, TargetConfig>, dir: string, registry: Registry, fail: Fail): JobConfig {
  const sources = buildSources(jobName, job.sources, dir, registry, fail);
  job.targets.forEach((target, index) => {
    if (!(target in targets))
      fail(
        'E_UNKNOWN_TARGET',
        ['jobs', jobName, 'targets', index],
        `no target "${target}" under targets (defined: ${Object.keys(targets).join(', ') || 'none'})`,
      );
  });
  const automation = jobAutomation(job, job.targets, (at, message) => fail('E_CONFIG', ['jobs', jobName, ...at], message));
  const keepPrevious = job.restore?.keepPrevious;
  return {
    name: jobName,
    sources,
    targets: job.targets,
    onSourceError: job.onSourceError,
    ...(keepPrevious ? { keepPreviousMs: keepPrevious } : {}),
    ...automation,
  };
}

function buildSources(jobName: string, rawSources: RawJob['sources'], dir: string, registry: Registry, fail: Fail): SourceConfig[] {
  const sources: SourceConfig[] = [];
  rawSources.forEach((source, index) => {
    const at: KeyPath = ['jobs', jobName, 'sources', index];
    const { type, name, ...rest } = source;
    const factory = registry.sources.get(type);
    if (!factory) fail('E_UNKNOWN_TYPE', [...at, 'type'], `unknown source type "${type}" (known: ${[...registry.sources.keys()].join(', ')})`);
    const opts = validateOptions(factory!.optionsSchema, resolvePaths(rest, dir), at, fail);
    const sourceName = name ?? factory!.defaultName(opts);
    if (sources.some((s) => s.name === sourceName)) {
      fail('E_CONFIG', name === undefined ? at : [...at, 'name'], `two sources of job "${jobName}" are named "${sourceName}"; give one a name:`);
    }
    sources.push({ type, name: sourceName, options: opts });
  });
  return sources;
}

function encryptionOf(raw: RawConfig, dir: string, passphraseError: FailsafeError | undefined): FailsafeConfig['encryption'] {
  if (raw.encryption === 'none') return { mode: 'none' };
  return {
    mode: 'keys',
    ...(raw.encryption.passphrase === undefined || passphraseError ? {} : { passphrase: raw.encryption.passphrase }),
    ...(passphraseError ? { passphraseError } : {}),
    ...(raw.encryption.keyFile === undefined ? {} : { keyFile: resolvePath(raw.encryption.keyFile, dir) }),
    ...(raw.encryption.recipients === undefined ? {} : { recipients: raw.encryption.recipients }),
    ...(raw.encryption.kdf === undefined ? {} : { kdf: raw.encryption.kdf }),
  };
}

/**
 * A configuration given as an object of the YAML's shape, checked exactly as
 * the file would be; relative paths resolve against `baseDir`.
 */
export function parseConfigObject(value: unknown, baseDir: string, options: LoadOptions): LoadedConfig {
  const label = options.label ?? 'configuration';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FailsafeError('E_CONFIG', `${label}: expected an object of the failsafe.yaml shape`);
  }
  return parseConfigText(stringifyYaml(value), resolve(baseDir, 'failsafe.yaml'), { ...options, label });
}

function validateOptions(
  schema: z.ZodType,
  value: Record<string, unknown>,
  at: KeyPath,
  fail: (code: 'E_CONFIG', at: KeyPath, message: string) => never,
): Record<string, unknown> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    fail('E_CONFIG', [...at, ...issuePath(issue)], describeIssue(issue));
  }
  return result.data as Record<string, unknown>;
}

/** Where an issue points; an unknown key points at the key itself, not at its parent. */
function issuePath(issue: z.core.$ZodIssue): KeyPath {
  const path = issue.path as KeyPath;
  return issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...path, issue.keys[0]] : path;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}

function resolvePaths(options: Record<string, unknown>, dir: string, pathOptions = DEFAULT_PATH_OPTIONS): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  for (const [key, value] of Object.entries(out)) {
    if (!pathOptions.includes(key)) continue;
    if (typeof value === 'string') out[key] = resolvePath(value, dir);
    else if (Array.isArray(value)) out[key] = value.map((v) => (typeof v === 'string' ? resolvePath(v, dir) : v));
  }
  return out;
}

function resolvePath(value: string, dir: string): string {
  if (value === '~' || value.startsWith('~/')) return resolve(homedir(), value.slice(2));
  return resolve(dir, value);
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
