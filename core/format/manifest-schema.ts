/**
 * The one gate for what a target hands back: a manifest header and body are
 * untrusted input (anyone who can write the target, or holds the public key,
 * can write one), so each is parsed against a schema with limits before any
 * other code sees it. A violation is E_CORRUPT naming the object and the
 * field; an entry path that would leave its source is E_UNSAFE_PATH, the code
 * restores have always given it. The limits are in docs/format.md ("Limits").
 */
import zlib from 'node:zlib';
import { z } from 'zod';
import { FailsafeError } from '../errors.js';
import { isWellFormedName } from '../fs/name-bytes.js';
import { isCanonicalBase64 } from '../util/base64.js';

/** Longest public header (H): a few hundred key slots fit many times over. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** The inflated manifest JSON never exceeds this, whatever its stats say: close to the longest string V8 can hold. */
export const MAX_MANIFEST_JSON = 512 * 1024 * 1024;
/**
 * A body may inflate to this many times its gzip size, plus a floor: a genuine
 * manifest of 100,000 folders inflates 19 times, of 100,000 files 5 times; a
 * gzip bomb inflates a thousand times and more.
 */
export const MAX_INFLATION_RATIO = 64;
export const INFLATION_FLOOR = 1024 * 1024;
/** Per file and segment the header counts, on top: a manifest of long paths that compress well still fits. */
export const INFLATION_PER_ITEM = 4096;
/** A segment's plaintext and stored object: the largest segment size a configuration allows (256 MiB), with room for its framing. */
export const MAX_SEGMENT_BYTES = 256 * 1024 * 1024;
export const MAX_STORED_SEGMENT_BYTES = 2 * MAX_SEGMENT_BYTES;
export const MAX_SOURCES = 4096;
export const MAX_KEY_SLOTS = 256;
export const MAX_TAGS = 64;
/** An entry path or link target, in UTF-16 units: far past PATH_MAX (4096), short of anything that costs memory. */
export const MAX_PATH_LENGTH = 16 * 1024;
/** A source name is one file name: NAME_MAX. */
export const MAX_NAME_LENGTH = 255;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const short = z.string().max(1024);
const isoDate = z
  .string()
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a date');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'is not a SHA-256');
const base64 = z
  .string()
  .max(64 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'is not base64')
  .refine(isCanonicalBase64, 'is not canonical base64');

/** One path segment: what a source name must be, as it names a folder under `restore --to`. */
const sourceName = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .refine((s) => s !== '.' && s !== '..' && !/[/\\\0]/.test(s), 'must be one path segment (no "/", "\\", NUL, "." or "..")');

const stats = z.object({ files: count, bytes: count, storedBytes: count, segments: count });

const slot = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('passphrase'),
    kdf: z.object({ alg: z.literal('argon2id13'), salt: base64, opslimit: count, memlimit: count }),
    nonce: base64,
    wrapped: base64,
  }),
  z.object({ type: z.literal('keyfile'), keyId: short, nonce: base64, wrapped: base64 }),
  z.object({ type: z.literal('recipient'), keyId: short, sealed: base64 }),
]);

// Loose: a field a later version adds survives a re-seal (keys rotate) untouched.
export const headerSchema = z.looseObject({
  format: z.number(),
  id: short,
  job: short,
  createdAt: isoDate,
  tool: short,
  stats,
  tags: z.array(short).max(MAX_TAGS).optional(),
  warnings: count.optional(),
  durationMs: count.optional(),
  signature: z.object({ alg: z.literal('ed25519'), publicKey: short }).optional(),
  encryption: z.discriminatedUnion('cipher', [
    z.object({ cipher: z.literal('none'), bodySha256: hex64 }),
    z.object({ cipher: z.literal('xchacha20poly1305-ietf'), nonce: base64, slots: z.array(slot).max(MAX_KEY_SLOTS) }),
  ]),
});

const segment = z.object({
  index: count,
  key: short.min(1),
  storedSize: count.max(MAX_STORED_SEGMENT_BYTES),
  sha256: short,
  plainSize: count.max(MAX_SEGMENT_BYTES),
  plainSha256: hex64.optional(),
});

/**
 * One entry of a format-1 manifest. The decode checks entries with
 * parseEntries (manifest-entries.ts), the same rules written by hand for
 * speed; this schema is what it is held to (test/format/manifest-entries.test.ts).
 */
export const entrySchema = z.object({
  source: sourceName,
  path: z.string().max(MAX_PATH_LENGTH),
  // Only what the writer makes: anything else (a hard link, a device, a FIFO) would be restored as something it is not.
  type: z.enum(['file', 'directory', 'symlink']),
  size: count,
  mode: z.number().int().min(0).max(0o177777),
  mtime: isoDate,
  linkTarget: z.string().max(MAX_PATH_LENGTH).refine(isWellFormedName, 'is not a well-formed name').optional(),
  uid: z.number().int().min(0).max(0xffffffff).optional(),
  gid: z.number().int().min(0).max(0xffffffff).optional(),
  sha256: hex64.optional(),
  hardLink: z.string().max(MAX_PATH_LENGTH).optional(),
  sparse: z.boolean().optional(),
  segment: count,
  offset: count,
});

export const sourceSchema = z.object({
  name: sourceName,
  type: short,
  entries: count,
  bytes: count,
  meta: z.record(z.string(), z.unknown()).optional(),
  warnings: z.array(z.string()).optional(),
});

/** A manifest body but its entries, which parseEntries (manifest-entries.ts) checks as `entrySchema` says. */
export const manifestHeadSchema = z.object({
  format: z.number(),
  id: short,
  job: short,
  createdAt: isoDate,
  tool: short,
  compression: z.object({ algorithm: short, level: z.number().int().min(-1000).max(1000) }),
  checksum: short.optional(),
  cipher: short,
  segmentSize: count.min(1).max(MAX_SEGMENT_BYTES),
  tarBytes: count,
  sources: z.array(sourceSchema).max(MAX_SOURCES),
  segments: z.array(segment),
});

export type ParsedHeader = z.infer<typeof headerSchema>;
export type ParsedManifest = z.infer<typeof manifestHeadSchema> & { entries: z.infer<typeof entrySchema>[] };

/** `value` against `schema`, or E_CORRUPT naming `what` and the first offending field. */
export function parseOrCorrupt<T>(schema: z.ZodType<T>, value: unknown, what: string, part: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const at = issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : '';
  throw new FailsafeError('E_CORRUPT', `${what}: ${part} is malformed${at}: ${issue.message}`, { object: objectOf(what) });
}

/** How far a manifest body of `gzipBytes` may inflate, given the counts its header claims. */
export function inflationBound(gzipBytes: number, claimed: { files: number; segments: number }): number {
  const items = Math.min(claimed.files + claimed.segments, MAX_MANIFEST_JSON / INFLATION_PER_ITEM);
  return Math.min(MAX_MANIFEST_JSON, INFLATION_FLOOR + MAX_INFLATION_RATIO * gzipBytes + INFLATION_PER_ITEM * items);
}

/** The largest output buffer a body is inflated into at once; a longer one takes several. */
const MAX_INFLATE_CHUNK = 64 * 1024 * 1024;

/**
 * How to inflate a manifest body: bounded by inflationBound, into one output
 * buffer of the length its gzip trailer states (ISIZE, its last 4 bytes)
 * rather than node's 16 KiB pieces, ~1,500 round trips to the thread pool
 * and a copy for a 100,000-file manifest. The trailer only sizes the
 * buffer, capped by the bound: zlib checks it against what it inflated, so a
 * false one fails the body as unreadable, as before.
 */
export function inflateOptions(gzipped: Buffer, claimed: { files: number; segments: number }): { maxOutputLength: number; chunkSize: number } {
  const maxOutputLength = inflationBound(gzipped.length, claimed);
  const stated = gzipped.length >= 4 ? gzipped.readUInt32LE(gzipped.length - 4) : 0;
  return { maxOutputLength, chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, Math.min(stated + 1, maxOutputLength, MAX_INFLATE_CHUNK)) };
}

/**
 * What the schema cannot say alone: segments numbered by their position,
 * one source per name, one entry per path, every entry in a listed source
 * and located inside its segment, and entry paths that stay inside their source.
 */
export function checkConsistency(manifest: ParsedManifest, what: string): void {
  const corrupt = (why: string): FailsafeError => new FailsafeError('E_CORRUPT', `${what}: ${why}`, { object: objectOf(what) });
  manifest.segments.forEach((s, i) => {
    if (s.index !== i) throw corrupt(`segment ${i} is numbered ${s.index}`);
  });
  const names = new Set<string>();
  for (const s of manifest.sources) {
    if (names.has(s.name)) throw corrupt(`source "${s.name}" is listed twice`);
    names.add(s.name);
  }
  // A path listed twice could be a symlink first and a folder written through it next: one entry per path.
  // Each source's paths in a map of their own: no `<source>/<path>` string made and hashed per entry.
  const paths = new Map<string, Map<string, string>>();
  for (const name of names) paths.set(name, new Map());
  for (const e of manifest.entries) {
    const earlier = paths.get(e.source);
    if (!earlier) throw corrupt(`entry "${e.path}" belongs to no listed source ("${e.source}")`);
    if (earlier.has(e.path)) throw corrupt(`entry "${e.source}/${e.path}" is listed twice`);
    if (e.hardLink !== undefined) assertHardLink(e, earlier.get(e.hardLink), what);
    earlier.set(e.path, e.type);
    const at = manifest.segments[e.segment];
    if (!at || e.offset > at.plainSize) throw corrupt(`entry "${e.source}/${e.path}" lies outside the tar stream (segment ${e.segment}, offset ${e.offset})`);
    assertEntryPath(e.path, what);
  }
}

/**
 * A hard link names an earlier file of its own source (never a folder, a
 * symlink or a later entry), so a restore only ever links to a file it has
 * just written itself. `linked` is the type of the entry listed before at
 * `hardLink` in the same source, if any.
 */
export function assertHardLink(e: { source: string; path: string; type: string; hardLink?: string }, linked: string | undefined, what: string): void {
  const full = `${e.source}/${e.hardLink}`;
  if (e.type !== 'file' || linked !== 'file' || e.hardLink === e.path) {
    throw new FailsafeError('E_CORRUPT', `${what}: entry "${e.source}/${e.path}" is a hard link to "${full}", which is no earlier file`, {
      object: objectOf(what),
    });
  }
}

/**
 * An entry path is relative and normalized: `/`-separated segments, none
 * empty, `.` or `..`, no NUL. A backslash is an ordinary character here
 * (a file name may hold one), and so is U+DC80–U+DCFF, a byte of a name that
 * is not UTF-8 (core/fs/name-bytes.ts); any other lone surrogate is refused.
 */
export function assertEntryPath(path: string, what: string): void {
  const why =
    path === ''
      ? 'is empty'
      : path.includes('\0')
        ? 'contains a NUL byte'
        : path.startsWith('/')
          ? 'is absolute'
          : !isWellFormedName(path)
            ? 'is not a well-formed name (a surrogate that stands for no byte)'
            : badSegment(path);
  if (why)
    throw new FailsafeError('E_UNSAFE_PATH', `${what}: refusing unsafe archive path "${path.replace(/\0/g, '\\0')}": ${why}`, { object: objectOf(what) });
}

const DOT = 0x2e;

/** The first segment that is `..`, `.` or empty, walked without splitting the path (an array per entry of a big manifest). */
function badSegment(path: string): string | undefined {
  for (let start = 0; ;) {
    const slash = path.indexOf('/', start);
    const end = slash === -1 ? path.length : slash;
    const length = end - start;
    if (length === 0) return 'is not normalized';
    if (length <= 2 && path.charCodeAt(start) === DOT && (length === 1 || path.charCodeAt(start + 1) === DOT)) {
      return length === 2 ? 'contains ..' : 'is not normalized';
    }
    if (slash === -1) return undefined;
    start = slash + 1;
  }
}

/** `target:key` → `key`: the object verify reports name. */
export function objectOf(what: string): string {
  const colon = what.indexOf(':');
  return colon === -1 ? what : what.slice(colon + 1);
}
