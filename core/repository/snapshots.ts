/**
 * Finding snapshots in a target: list them from the public manifest headers
 * (no key needed), resolve `latest` or an id (or a unique prefix of one), and
 * load a full manifest, which authenticates it.
 */
import { BUILTIN_STAGES, type StageCatalog, type StageModule } from '../codec/stages.js';
import type { ObjectInfo, RestoreEntry, SegmentCipher } from '../contracts.js';
import { openSnapshotKeys, type Encryption } from '../crypto/encryption.js';
import { PlainCipher } from '../crypto/segment-cipher.js';
import { encodeSigningKey, type TrustPolicy } from '../crypto/signing.js';
import type { SegmentCodecSpec } from '../pipeline/segment-work.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import { MANIFESTS_PREFIX, manifestKey, parseManifestKey } from './layout.js';
import { latestCandidates, newestTrusted, PRE_RESTORE_TAG, type SignatureState } from './signature-state.js';
import { decodeManifest, decodeManifestHeader, headerLengthOf, type Manifest, type ManifestEntry, type ManifestHeader } from '../format/manifest.js';
import type { Storage } from './storage.js';
import { cachedHeader } from './header-cache.js';
import { listSnapshotsV2 } from '../dedup/list.js';
import { snapshotKeyV2 } from '../dedup/snapshot.js';
import { compareText } from '../util/order.js';

/** What a snapshot is, as a backup reports it and `list` finds it. */
export interface SnapshotBasics {
  id: string;
  job: string;
  target: string;
  createdAt: string;
  bytes: number;
  files: number;
  storedBytes: number;
  /** Labels from the public header, e.g. `pre-restore`; absent when none. */
  tags?: string[];
  /** How long its backup run took (milliseconds), from the public header; absent in snapshots of earlier versions. */
  durationMs?: number;
}

export interface SnapshotInfo extends SnapshotBasics {
  /** Segment objects (format 1), or chunks used (format 2). */
  segments: number;
  /** 2 for a deduplicating snapshot (`snapshots/<job>/<id>`); absent for format 1. */
  format?: 2;
  /** How many warnings its sources gave at backup, from the public header; absent when none. */
  warnings?: number;
  /** `list` with trusted signing keys: whether a trusted key signed it (its whole object read and checked). */
  signature?: SignatureState;
  /** `list`: the newest trusted snapshot of its job in its target, older than one this host saw there before (a rollback). */
  wentBackwards?: { seenId: string; seenCreatedAt: string };
}

const HEADER_PROBE = 64 * 1024;
/** Manifest headers `list` reads at the same time. */
const HEADERS_AT_ONCE = 8;

export async function readManifestHeader(storage: Storage, job: string, id: string): Promise<ManifestHeader> {
  const key = manifestKey(job, id);
  const what = `${storage.targetName}:${key}`;
  let bytes = await storage.getBuffer(key, { range: { start: 0, end: HEADER_PROBE - 1 } });
  const needed = headerLengthOf(bytes, what);
  if (needed !== undefined && needed > bytes.length) bytes = await storage.getBuffer(key, { range: { start: 0, end: needed - 1 } });
  return matchingKey(decodeManifestHeader(bytes, what).header, job, id, what);
}

/**
 * A header must name the snapshot its object is stored as: one that names
 * another (a manifest copied over a real one) would list that one twice and
 * hide this one.
 */
function matchingKey<T extends { id: string; job: string }>(header: T, job: string, id: string, what: string): T {
  if (header.id !== id || header.job !== job) {
    throw new FailsafeError('E_CORRUPT', `${what}: manifest header names snapshot ${header.job}/${header.id}`, { object: manifestKey(job, id) });
  }
  return header;
}

/** A manifest `list` could not read: its object, and why. */
export interface UnreadableManifest {
  job: string;
  id: string;
  key: string;
  error: FailsafeError;
}

export interface ListSnapshotsOptions {
  job?: string;
  warn?: (message: string) => void;
  /** Told of every manifest skipped as unreadable, after `warn`: callers that must not pass over one (verify --all) count them. */
  unreadable?: (manifest: UnreadableManifest) => void;
}

/** Snapshots in a target, newest first. Unreadable manifests are reported through `warn` and `unreadable`, and skipped. */
export async function listSnapshots(storage: Storage, options: ListSnapshotsOptions = {}): Promise<SnapshotInfo[]> {
  const prefix = options.job === undefined ? MANIFESTS_PREFIX : `${MANIFESTS_PREFIX}${options.job}/`;
  const found: SnapshotInfo[] = [];
  let batch: { job: string; id: string; key: string; object: ObjectInfo }[] = [];
  // Headers are read a few at a time: on a remote store a thousand snapshots are otherwise a thousand round trips one after the other.
  const readBatch = async (): Promise<void> => {
    // A kept header is copied: what one caller does with its answer is not the next one's.
    const listed = (m: (typeof batch)[number]): Promise<SnapshotInfo> =>
      cachedHeader(storage, m.object, () => readListed(storage, m)).then((info) => ({ ...info }));
    const read = await Promise.all(batch.map((m) => listed(m).catch((err: unknown) => err)));
    read.forEach((result, i) => {
      if (!(result instanceof Error)) return void found.push(result as SnapshotInfo);
      if (!isFailsafeError(result)) throw result;
      const { job, id, key } = batch[i]!;
      options.warn?.(`skipping ${storage.targetName}:${key}: ${result.message}`);
      const error = new FailsafeError(result.code, result.message, { cause: result, object: key });
      options.unreadable?.({ job, id, key, error });
    });
    batch = [];
  };
  for await (const object of storage.list(prefix)) {
    const parsed = parseManifestKey(object.key);
    if (!parsed) continue;
    batch.push({ ...parsed, key: object.key, object });
    if (batch.length >= HEADERS_AT_ONCE) await readBatch();
  }
  await readBatch();
  found.push(...(await listSnapshotsV2(storage, options)));
  return withoutCollisions(storage, found, options).sort((a, b) =>
    a.createdAt === b.createdAt ? compareText(b.id, a.id) : compareText(b.createdAt, a.createdAt),
  );
}

/** One manifest's public header as `list` shows it. */
export async function readListed(storage: Storage, manifest: { job: string; id: string }): Promise<SnapshotInfo> {
  const header = await readManifestHeader(storage, manifest.job, manifest.id);
  return {
    id: header.id,
    job: header.job,
    target: storage.targetName,
    createdAt: header.createdAt,
    ...header.stats,
    ...(header.tags && header.tags.length > 0 ? { tags: header.tags } : {}),
    ...(header.warnings ? { warnings: header.warnings } : {}),
    ...(header.durationMs === undefined ? {} : { durationMs: header.durationMs }),
  };
}

/**
 * One id stored in both formats (`manifests/` and `snapshots/`): one of them
 * is a copy placed there, and either could be the real one. Both are reported
 * unreadable, as a damaged header is, rather than listed twice or one hidden.
 */
function withoutCollisions(storage: Storage, found: SnapshotInfo[], options: ListSnapshotsOptions): SnapshotInfo[] {
  const seen = new Map<string, number>();
  for (const s of found) seen.set(`${s.job}/${s.id}`, (seen.get(`${s.job}/${s.id}`) ?? 0) + 1);
  return found.filter((s) => {
    if (seen.get(`${s.job}/${s.id}`) === 1) return true;
    const key = s.format === 2 ? snapshotKeyV2(s.job, s.id) : manifestKey(s.job, s.id);
    const error = new FailsafeError('E_CORRUPT', `${storage.targetName}:${key}: snapshot ${s.job}/${s.id} is stored in both formats`, { object: key });
    options.warn?.(`skipping ${storage.targetName}:${key}: ${error.message}`);
    options.unreadable?.({ job: s.job, id: s.id, key, error });
    return false;
  });
}

export { PRE_RESTORE_TAG } from './signature-state.js';

/**
 * `latest` (the newest that is neither a pre-restore safety snapshot nor dated
 * in the future), a full id or a unique id prefix → the snapshot.
 * E_SNAPSHOT_NOT_FOUND otherwise.
 */
export async function resolveSnapshot(storage: Storage, ref: string, job?: string, options: ResolveOptions = {}): Promise<SnapshotInfo> {
  const damaged: UnreadableManifest[] = [];
  const all = await listSnapshots(storage, { ...(job === undefined ? {} : { job }), unreadable: (m) => void damaged.push(m) });
  const where = `in target "${storage.targetName}"${job === undefined ? '' : ` for job "${job}"`}`;
  if (ref === 'latest') return latestOf(storage, all, where, options);
  const matches = all.filter((s) => s.id === ref || s.id.startsWith(ref));
  const exact = matches.filter((s) => s.id === ref);
  if (exact.length === 1) return exact[0]!;
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new FailsafeError('E_USAGE', `snapshot "${ref}" is ambiguous ${where} (${matches.length} match)`);
  // A snapshot whose object is there but unreadable is not "not found": its damage is the answer (exit 3, the object named).
  const unreadable = damaged.find((m) => m.id === ref) ?? (damaged.length === 1 && damaged[0]!.id.startsWith(ref) ? damaged[0] : undefined);
  if (unreadable) throw unreadable.error;
  throw new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${ref}" not found ${where}`);
}

export interface ResolveOptions {
  /** This host's clock (for snapshots dated in the future). */
  now?: Date;
  /** When signatures are required, `latest` is the newest snapshot one of these keys signed. */
  trust?: TrustPolicy;
}

async function latestOf(storage: Storage, all: SnapshotInfo[], where: string, options: ResolveOptions): Promise<SnapshotInfo> {
  const now = options.now ?? new Date();
  // A restore's safety snapshot holds the data that was being replaced: `latest` means the newest backup, not that.
  const backups = all.filter((s) => !s.tags?.includes(PRE_RESTORE_TAG));
  const current = latestCandidates(all, now);
  // A forged snapshot newer than the real ones must not block `restore latest`: the newest one a trusted key signed is it.
  const newest = await newestTrusted(storage, current, { now, trust: options.trust });
  if (newest) return newest;
  if (current.length > 0) {
    throw new FailsafeError(
      'E_SNAPSHOT_NOT_FOUND',
      `no snapshot signed by a trusted key ${where} (${current.length} unsigned or untrusted: restore one by its id with --allow-unsigned)`,
    );
  }
  const future = backups.length > 0 ? ` (only ${backups.length} dated in the future, past this host's clock: restore one by its id if it is genuine)` : '';
  const safety =
    all.length > 0 && backups.length === 0 ? ` (only ${all.length} pre-restore safety snapshot${all.length === 1 ? '' : 's'}: restore one by its id)` : '';
  throw new FailsafeError('E_SNAPSHOT_NOT_FOUND', `no snapshots ${where}${future}${safety}`);
}

export interface OpenedSnapshot {
  storage: Storage;
  header: ManifestHeader;
  manifest: Manifest;
  cipher: SegmentCipher;
  /** The codecs as plain data, for the worker threads that open segments (core/pipeline/segment-workers.ts). */
  codecs: SegmentCodecSpec;
  /** A v2 snapshot's content, read from packs (core/dedup/open.ts); absent for format 1, whose content is its segments. */
  chunked?: ChunkedContent;
}

/** Reading a v2 snapshot's content. */
export interface ChunkedContent {
  /**
   * The entries of these sources, in tree order, files with their bytes checked chunk by chunk; with `only`, just
   * the entries it keeps, and only their chunks are read (`failsafe dump` of one file).
   */
  entries(
    sources: Set<string>,
    signal?: AbortSignal,
    only?: (entry: ManifestEntry) => boolean,
  ): AsyncGenerator<RestoreEntry & { source: string; record: ManifestEntry }>;
  /** Every chunk it uses is in the index and its pack exists; with `readData` every chunk is read and checked. Resolves with the chunks checked. */
  check(readData: boolean, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<number>;
}

/** Loads and authenticates a manifest. E_WRONG_KEY for a wrong key, E_CHECKSUM/E_CORRUPT for damage. */
export async function openSnapshot(
  storage: Storage,
  job: string,
  id: string,
  encryption: Encryption,
  stages: StageCatalog = BUILTIN_STAGES,
): Promise<OpenedSnapshot> {
  const key = manifestKey(job, id);
  const what = `${storage.targetName}:${key}`;
  let cipher: SegmentCipher = new PlainCipher();
  let segmentKey: Uint8Array | undefined;
  // Fetched again when the transfer breaks or the bytes fail their check (read-again.ts); a wrong key fails at once.
  const { header, manifest, signedBy } = await storage.readAgain(async () =>
    decodeManifest(await storage.getBuffer(key), what, async (h) => {
      const opened = openSnapshotKeys(encryption, h);
      cipher = opened.segments;
      segmentKey = opened.segmentKey;
      return opened;
    }),
  );
  matchingKey(header, job, id, what);
  checkTrust(encryption.trust, signedBy, what);
  return { storage, header, manifest, cipher, codecs: readingSpec(manifest, cipher.name, segmentKey, stages) };
}

/**
 * Whether a snapshot may be read: with no trusted keys configured, any (as
 * before signing existed); with some, only one signed by one of them, unless
 * `--allow-unsigned`. Its signature itself was checked when it was decoded.
 */
export function checkTrust(trust: TrustPolicy | undefined, signedBy: Uint8Array | undefined, what: string): void {
  if (!trust || trust.allowUnsigned) return;
  const object = what.slice(what.indexOf(':') + 1);
  if (!signedBy)
    throw new FailsafeError('E_UNSIGNED', `${what} is not signed, and this deployment trusts only signed snapshots (--allow-unsigned reads it)`, { object });
  if (!trust.keys.some((key) => Buffer.from(key).equals(Buffer.from(signedBy)))) {
    throw new FailsafeError(
      'E_UNTRUSTED',
      `${what} is signed by ${encodeSigningKey(signedBy)}, a key this deployment does not trust (--allow-unsigned reads it)`,
      {
        object,
      },
    );
  }
}

/** The stages that read a snapshot: the built-in ones, or those its job registered under the names the manifest records. */
function readingSpec(manifest: Manifest, cipherName: string, key: Uint8Array | undefined, stages: StageCatalog): SegmentCodecSpec {
  const { algorithm, level } = manifest.compression;
  const { checksum } = manifest;
  return {
    compression: { algorithm, level, ...pickImplementation(stages.compression(algorithm)) },
    cipher: { name: cipherName, ...(key ? { key } : {}), ...pickImplementation(stages.cipher()) },
    ...(checksum === undefined ? {} : { checksum: { name: checksum, ...pickImplementation(stages.checksum(checksum)) } }),
  };
}

const pickImplementation = (implementation: StageModule | undefined): { implementation?: StageModule } => (implementation ? { implementation } : {});
