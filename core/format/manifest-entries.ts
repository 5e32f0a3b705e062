/**
 * A format-1 manifest's entries, checked by hand rather than by the zod
 * schema: the same rules and limits as `entrySchema` (manifest-schema.ts),
 * field by field in the same order, so that the first violation is the one
 * the schema would name (`entries.<i>.<field>`). Zod, entry by entry, was a
 * third of a 100,000-file manifest's decode (0.27–0.57 s idle), which the
 * dashboard's first folder of a big snapshot waits for
 * (docs/performance.md). test/core/manifest-entries.test.ts holds both
 * gates to the same answer on every rule, and on mutated entries.
 *
 * Like the schema, it keeps only the fields it knows (a new object per
 * entry, in the schema's key order): nothing unchecked reaches the caller.
 */
import { FailsafeError } from '../errors.js';
import { isWellFormedName } from '../fs/name-bytes.js';
import { checkConsistency, manifestHeadSchema, MAX_NAME_LENGTH, MAX_PATH_LENGTH, objectOf, parseOrCorrupt, type ParsedManifest } from './manifest-schema.js';

type ManifestEntry = ParsedManifest['entries'][number];

type Check = (value: unknown) => string | undefined;

const typeName = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const expected = (type: string, value: unknown): string => `Invalid input: expected ${type}, received ${typeName(value)}`;

const integer =
  (min: number, max: number): Check =>
  (value) => {
    if (typeof value !== 'number') return expected('number', value);
    if (!Number.isInteger(value)) return expected('int', value);
    if (!Number.isSafeInteger(value))
      return value > 0 ? `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}` : `Too small: expected int to be >=${-Number.MAX_SAFE_INTEGER}`;
    if (value < min) return `Too small: expected number to be >=${min}`;
    return value > max ? `Too big: expected number to be <=${max}` : undefined;
  };

const string =
  (max: number, refine?: (s: string) => string | undefined): Check =>
  (value) => {
    if (typeof value !== 'string') return expected('string', value);
    if (value.length > max) return `Too big: expected string to have <=${max} characters`;
    return refine?.(value);
  };

const count = integer(0, Number.MAX_SAFE_INTEGER);
const HEX64 = /^[0-9a-f]{64}$/;
const SEGMENT_BREAKER = /[/\\\0]/;
const TYPES = new Set(['file', 'directory', 'symlink']);

const SOURCE = string(MAX_NAME_LENGTH, (s) =>
  s.length < 1
    ? 'Too small: expected string to have >=1 characters'
    : s === '.' || s === '..' || SEGMENT_BREAKER.test(s)
      ? 'must be one path segment (no "/", "\\", NUL, "." or "..")'
      : undefined,
);
const PATH = string(MAX_PATH_LENGTH);
const TYPE: Check = (v) => (typeof v === 'string' && TYPES.has(v) ? undefined : 'Invalid option: expected one of "file"|"directory"|"symlink"');
const MODE = integer(0, 0o177777);
const MTIME = string(64, (s) => (Number.isNaN(Date.parse(s)) ? 'is not a date' : undefined));
const LINK_TARGET = string(MAX_PATH_LENGTH, (s) => (isWellFormedName(s) ? undefined : 'is not a well-formed name'));
const ID = integer(0, 0xffffffff);
const SHA256 = string(Infinity, (s) => (HEX64.test(s) ? undefined : 'is not a SHA-256'));
const SPARSE: Check = (v) => (typeof v === 'boolean' ? undefined : expected('boolean', v));

type Refuse = (field: string, why: string) => never;

/** `value` if it passes `check`, else the entry is refused naming `field`. */
function take<T>(value: unknown, check: Check, field: string, refuse: Refuse): T {
  const why = check(value);
  return why === undefined ? (value as T) : refuse(field, why);
}

/**
 * One entry, field by field in the schema's order (the first violation is
 * the one it names), kept in a new object in that order; an optional field
 * absent or undefined is left out. Written out field by field rather than
 * looped over a table: named stores give entries of one shape one hidden
 * class, where a loop's keyed stores built each object slowly (a third of the
 * gate's time for 100,000 entries).
 */
function entryOf(r: Record<string, unknown>, refuse: Refuse): ManifestEntry {
  const entry = {
    source: take<string>(r.source, SOURCE, 'source', refuse),
    path: take<string>(r.path, PATH, 'path', refuse),
    type: take<ManifestEntry['type']>(r.type, TYPE, 'type', refuse),
    size: take<number>(r.size, count, 'size', refuse),
    mode: take<number>(r.mode, MODE, 'mode', refuse),
    mtime: take<string>(r.mtime, MTIME, 'mtime', refuse),
  } as ManifestEntry;
  if (r.linkTarget !== undefined) entry.linkTarget = take(r.linkTarget, LINK_TARGET, 'linkTarget', refuse);
  if (r.uid !== undefined) entry.uid = take(r.uid, ID, 'uid', refuse);
  if (r.gid !== undefined) entry.gid = take(r.gid, ID, 'gid', refuse);
  if (r.sha256 !== undefined) entry.sha256 = take(r.sha256, SHA256, 'sha256', refuse);
  if (r.hardLink !== undefined) entry.hardLink = take(r.hardLink, PATH, 'hardLink', refuse);
  if (r.sparse !== undefined) entry.sparse = take(r.sparse, SPARSE, 'sparse', refuse);
  entry.segment = take(r.segment, count, 'segment', refuse);
  entry.offset = take(r.offset, count, 'offset', refuse);
  return entry;
}

/** `value` as a manifest's entries, or E_CORRUPT naming `what` and the first offending field, as parseOrCorrupt words it. */
export function parseEntries(value: unknown, what: string): ManifestEntry[] {
  const malformed = (at: string, why: string): FailsafeError =>
    new FailsafeError('E_CORRUPT', `${what}: manifest body is malformed at ${at}: ${why}`, { object: objectOf(what) });
  if (!Array.isArray(value)) throw malformed('entries', expected('array', value));
  const entries = new Array<ManifestEntry>(value.length);
  let i = 0;
  const refuse: Refuse = (field, why) => {
    throw malformed(`entries.${i}.${field}`, why);
  };
  for (; i < value.length; i += 1) {
    const raw: unknown = value[i];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed(`entries.${i}`, expected('object', raw));
    entries[i] = entryOf(raw as Record<string, unknown>, refuse);
  }
  return entries;
}

/**
 * A manifest body through the gate: the schema for all but its entries, the
 * entries by hand, then what no schema says (checkConsistency). What the
 * one schema `manifestSchema` said, in the same order.
 */
export function parseManifestBody(json: unknown, what: string): ParsedManifest {
  const head = parseOrCorrupt(manifestHeadSchema, json, what, 'manifest body');
  const manifest = { ...head, entries: parseEntries((json as { entries?: unknown }).entries, what) };
  checkConsistency(manifest, what);
  return manifest;
}
