/**
 * The role contracts of Failsafe, in one place. Every plugin and adapter
 * implements one of these; the conformance suites under test/conformance
 * check the behaviour documented here. Errors are always `FailsafeError`
 * (core/errors.ts) with the code named on each member.
 */
import type { Readable } from 'node:stream';

// ---------------------------------------------------------------- storage

/** What an adapter can do, read by the core and by the conformance suite. */
export interface StorageCapabilities {
  /** `get(key, { range })` reads only the requested bytes (otherwise the facade slices). */
  rangeRead: boolean;
  /** A `put` is all-or-nothing: readers never see a partial object. Required to be true. */
  atomicPut: true;
  /** The store survives the process (false for `memory`). */
  persistent: boolean;
  /** The adapter implements `ResumableUploads` (S3 multipart); absent means false. */
  resumableUpload?: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification, when the store reports it. */
  modified?: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; to the end of the object when omitted. */
  end?: number;
}

export interface StorageOptions {
  signal?: AbortSignal;
}

/**
 * A place where objects live: a folder, a bucket, a server. Keys are
 * `/`-separated relative paths of `[A-Za-z0-9._-]` segments; the `Storage`
 * facade validates them before an adapter sees them.
 */
export interface StorageAdapter {
  /** The adapter's type name as used in YAML (`local`, `memory`, `s3`, …). */
  readonly type: string;
  readonly capabilities: StorageCapabilities;
  /**
   * Stores the whole stream under `key`, replacing any existing object, atomically:
   * until it resolves nobody sees the new object, and if it rejects (stream
   * error, abort, full disk) the previous object, if any, is untouched and no
   * partial object remains. Rejects with E_STORAGE, E_PERMISSION, E_NOT_MOUNTED
   * or E_ABORTED (remote stores also E_AUTH, E_BUCKET_NOT_FOUND, E_UNREACHABLE;
   * any method may). Resolves with the number of bytes stored.
   */
  put(key: string, body: Readable | Buffer, options?: StorageOptions): Promise<{ size: number }>;
  /**
   * A stream of the object's bytes, or of `range` of them. Rejects with
   * E_NOT_FOUND when the key does not exist; read errors surface on the stream.
   */
  get(key: string, options?: StorageOptions & { range?: ByteRange }): Promise<Readable>;
  /**
   * Optional: the whole object in one buffer, for stores that can read it in
   * one allocation instead of a stream of chunks (segments are read whole).
   * Same errors as `get`.
   */
  getBuffer?(key: string, options?: StorageOptions): Promise<Buffer>;
  /**
   * Optional, for adapters whose objects are plain files on this machine: the
   * file holding `key`, so a reader in another thread can read it itself (the
   * restore's worker threads read segments this way, sparing the main thread
   * the reads). Rejects like `get` for an unusable target (an unmounted disk);
   * does not check that the object exists.
   */
  filePath?(key: string): Promise<string>;
  /** The object's size and date, or `undefined` when it does not exist. */
  head(key: string, options?: StorageOptions): Promise<ObjectInfo | undefined>;
  /**
   * Every object whose key starts with `prefix`, in ascending key order,
   * without temporary or partial objects. An empty store yields nothing.
   */
  list(prefix: string, options?: StorageOptions): AsyncIterable<ObjectInfo>;
  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string, options?: StorageOptions): Promise<void>;
  /** Releases connections or handles; the adapter is unusable afterwards. */
  close?(): Promise<void>;
  /**
   * Removes leftovers of interrupted writes older than `olderThanMs` (temp
   * files, abandoned multipart uploads). Resolves with how many. Called by prune.
   */
  cleanupTemp?(olderThanMs: number): Promise<number>;
  /**
   * When the object is under a retention lock (S3 Object Lock, WORM storage),
   * the instant the lock ends; `undefined` when it may be deleted. Prune never
   * deletes a snapshot whose manifest is locked.
   */
  lockedUntil?(key: string, options?: StorageOptions): Promise<Date | undefined>;
}

/** An upload of one object that was interrupted (a crash, a lost connection) and can continue. */
export interface PendingUpload {
  key: string;
  /** The store's id of the upload (an S3 multipart upload id). */
  uploadId: string;
  started: Date;
  /** Size of each stored part; the continuation is cut the same way. */
  partSize: number;
  /** Leading parts already stored, each `partSize` bytes. */
  parts: number;
  /** `parts × partSize`: the continuation starts at this byte of the object. */
  storedBytes: number;
}

/**
 * Continuing an interrupted upload instead of starting over, for adapters
 * whose `capabilities.resumableUpload` is true. A `put` that fails or is
 * aborted still discards its parts; what remains to resume is what a crash
 * leaves behind. Until it completes, a pending upload is invisible to `get`,
 * `head` and `list`, like any unfinished put; `cleanupTemp` discards the
 * pending uploads older than its grace period.
 */
export interface ResumableUploads {
  /** The newest interrupted upload of `key`, or `undefined`. */
  pendingUpload(key: string, options?: StorageOptions): Promise<PendingUpload | undefined>;
  /**
   * Completes `pending` with `rest`: the object's bytes from `pending.storedBytes`
   * on (the caller must produce the same bytes as the first attempt). If this fails,
   * the stored parts stay for another attempt. Resolves with the object's size.
   */
  resumeUpload(pending: PendingUpload, rest: Readable | Buffer, options?: StorageOptions): Promise<{ size: number }>;
}

export function isResumable(adapter: StorageAdapter): adapter is StorageAdapter & ResumableUploads {
  return adapter.capabilities.resumableUpload === true;
}

// ---------------------------------------------------------------- sources

export type EntryType = 'file' | 'directory' | 'symlink';

/** One thing a source contributes to a snapshot. */
export interface SourceEntry {
  /** Path inside the source, `/`-separated, relative, never `..` or absolute. */
  path: string;
  type: EntryType;
  /** Bytes of a file; 0 for other types. */
  size: number;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  /**
   * Modification time, kept to the millisecond. From a `Stats`, take `mtimeOf(stats)` (rounds down, as tar does) rather
   * than `stats.mtime` (rounds to nearest), or a file changed late in a second comes back stamped with the next one.
   */
  mtime: Date;
  /** Target of a symlink, as stored in the link. */
  linkTarget?: string;
  /** Owner and group ids; restored only by a restore running as root. */
  uid?: number;
  gid?: number;
  /**
   * Opens the file's bytes. The stream must deliver exactly `size` bytes; a
   * source that sees the file change while reading fails the stream with
   * E_SOURCE_CHANGED. Read errors are E_SOURCE_READ.
   */
  open?(): Readable;
  /**
   * Optional fast path for a file on this machine: when given, the core reads
   * `localFile.path` itself with positional reads straight into its segment
   * buffers and does not call `open` (which must still be given, for other
   * readers). A file that cannot be opened or read fails the backup with
   * E_SOURCE_READ naming the source and the path.
   */
  localFile?: LocalFile;
}

/** What changed in a file between its enumeration and the end of its read. */
export type LocalFileChange = 'shrank' | 'grew' | 'changed';

export interface LocalFile {
  /** Path of the regular file; it is opened read-only, symlinks followed. */
  path: string;
  /**
   * Called once the file is read when it no longer matches its entry:
   * `shrank` (the archived copy is padded with zeros to `size`), `grew` (the
   * copy is cut at `size`) or `changed` (same size, another mtime). Throw
   * (E_SOURCE_CHANGED) to fail the backup; return to keep the copy, after a
   * warning, say.
   */
  changed(what: LocalFileChange): void;
}

export interface SourceContext {
  signal?: AbortSignal;
  /** Non-fatal problems (a skipped socket, say), shown to the user. */
  warn(message: string): void;
}

/** An entry being restored: the header as archived and its bytes. */
export interface RestoreEntry extends Omit<SourceEntry, 'open' | 'localFile'> {
  /** The file's bytes; must be consumed (or resumed) before the next entry arrives. */
  body?: Readable;
  /**
   * A small file's whole bytes, already checked against its SHA-256, when
   * the restore has them at hand (`body` then reads the same bytes): a
   * plugin may write them without going through a stream.
   */
  content?: Buffer;
  /**
   * A file's bytes without a stream or a copy, for a plugin that writes each
   * chunk before asking for the next: a chunk is valid only until the next is
   * requested, or the next entry (its memory is then reused). Use this or
   * `body`/`content`, not both; those are safe to keep.
   */
  chunks?(): AsyncIterable<Buffer>;
}

export interface RestoreOptions {
  signal?: AbortSignal;
  warn(message: string): void;
}

/** Where a source's archived data lives on this machine, for an in-place restore. */
export interface LiveLocation {
  /** Path inside the source's archive: '' for the source's root tree, or a file's path. */
  archivePath: string;
  /** Absolute path on this machine. */
  livePath: string;
  kind: 'directory' | 'file';
  /**
   * Files that belong to the live data without being archived (a database's
   * `-wal`, `-shm` and `-journal`): a restore moves them aside together with
   * `livePath`, so no stale companion is ever paired with restored data.
   */
  companions?: string[];
}

export interface SourcePlugin {
  /** The plugin's type name as used in YAML (`directory`, `config-file`, …). */
  readonly type: string;
  /** The source's name inside the snapshot: unique per job, a single path segment. */
  readonly name: string;
  /** Take a snapshot or dump before enumeration. Rejects with E_SOURCE_MISSING or E_SOURCE_READ. */
  prepare?(context: SourceContext): Promise<void>;
  /**
   * Enumerates the entries to archive, parents before children. Rejects with
   * E_SOURCE_MISSING when the source does not exist and E_SOURCE_READ when it
   * cannot be read.
   */
  entries(context: SourceContext): AsyncIterable<SourceEntry>;
  /** Always called after a backup attempt, success or not, when `prepare` was. Must not throw. */
  cleanup?(): Promise<void>;
  /** Facts recorded in the manifest (e.g. a database's page size). JSON-serialisable. */
  describe?(): Record<string, unknown>;
  /** Where this source's data lives, for an in-place restore. */
  liveLocations(): LiveLocation[];
  /**
   * Writes the entries under `destination` (a directory, created if needed),
   * keeping modes and mtimes. Refuses, with E_UNSAFE_PATH, any entry that would
   * write outside `destination`. Resolves with the number of entries written.
   */
  restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: RestoreOptions): Promise<number>;
  /**
   * Called with the live paths just before a restore swaps them, after the
   * staged copy passed `check`. Rejects with E_DB_BUSY (or another code) when
   * the live data is in use and must not be replaced now; nothing is changed.
   */
  beforeSwap?(livePaths: string[]): Promise<void>;
  /**
   * A usability check of data restored under `restoredPath` (the same layout
   * `restore` wrote). Rejects with E_CHECK_FAILED and a reason.
   */
  check?(restoredPath: string): Promise<void>;
  /**
   * For a source whose live data is not a path on this machine (a database
   * server fed by a restore command; its `liveLocations()` is empty): an
   * in-place restore stages the entries under `restoredPath`, runs `check`,
   * then calls this instead of swapping files. Rejects with E_RESTORE.
   */
  applyRestore?(restoredPath: string, options: RestoreOptions): Promise<void>;
  /**
   * The same check of the data where `liveLocations()` says it lives, run
   * right after an in-place restore swapped it in; a rejection (E_CHECK_FAILED)
   * rolls the whole restore back.
   */
  checkLive?(): Promise<void>;
}

// ---------------------------------------------------------------- codecs

/** A compression algorithm applied to whole segments. */
export interface Compressor {
  readonly algorithm: 'zstd' | 'gzip' | 'brotli' | 'none';
  /** Compresses one segment; runs off the main thread where the codec allows. */
  compress(data: Buffer): Promise<Buffer>;
  /**
   * Rejects with E_CORRUPT when `data` is not a valid stream of this algorithm,
   * or inflates to more than `expectedSize` bytes when that is given.
   */
  decompress(data: Buffer, expectedSize?: number): Promise<Buffer>;
}

/**
 * One segment compressed or decompressed on the calling thread (the pipeline's
 * worker threads use it; core/codec/compression.ts makes one per algorithm).
 */
export interface SegmentCodec {
  readonly algorithm: Compressor['algorithm'];
  /**
   * The result belongs to the caller: the codec never writes to it again, and
   * it is the only view of an ArrayBuffer not much larger than itself (never
   * Buffer's shared pool), so postMessage can transfer it without a copy.
   * "none" gives `src` back as it is.
   */
  compress(src: Uint8Array): Buffer;
  /**
   * Like compress, but the result may be the codec's own scratch buffer, valid
   * only until its next call: for a caller that encrypts or copies it at once,
   * so a segment costs no allocation. With `room`, a codec that can compress
   * straight into it (when the result surely fits) does, and returns a view of it.
   */
  compressScratch(src: Uint8Array, room?: Buffer): Buffer;
  /**
   * Throws E_CORRUPT when `src` is not valid data of this algorithm or
   * inflates to more than `expectedSize` bytes. The result belongs to the caller, as for compress.
   * With `output` (at least `expectedSize` bytes), a codec that can write
   * into it does, and returns a view of it; others return their own buffer.
   */
  decompress(src: Uint8Array, expectedSize: number, output?: Buffer): Buffer;
}

/**
 * Authenticated encryption of segments bound to their position in a snapshot.
 * The `…Into` forms write into the caller's buffer (worker threads seal into
 * preallocated, possibly SharedArrayBuffer-backed, buffers) and return the
 * bytes written.
 */
export interface SegmentCipher {
  readonly name: string;
  /** Whether `decrypt` fails on any altered byte: then a stored checksum need only be compared when it does. */
  readonly authenticated: boolean;
  /** Exactly the bytes `encryptInto` writes for `plainLength` bytes. */
  sealedSize(plainLength: number): number;
  /** Room `decryptInto` needs for `sealedLength` sealed bytes (the exact plaintext length when they are intact). */
  openedSize(sealedLength: number): number;
  /** `context` (snapshot id and segment index) is authenticated, so segments cannot be swapped. */
  encrypt(plain: Buffer, context: string): Buffer;
  /**
   * `plain` may lie in `out` itself, starting at least `sealedSize(out.length) - out.length` bytes in: sealing in
   * place then never overwrites a byte it has yet to read (the backup compresses into its output buffer that way).
   */
  encryptInto(plain: Buffer, context: string, out: Buffer): number;
  /** What `resealInto` needs of sealed bytes to seal again as they were (a header, a nonce; none for a cipher without). */
  headerOf(sealed: Uint8Array): Uint8Array;
  /**
   * Seals `plain` as `encryptInto` does but with `header` (from `headerOf`), so the same plaintext gives the same
   * bytes: a resumed backup compares them with a stored segment to keep it. The result must never be stored or sent
   * when it differs from what was sealed with that header, which must not seal two plaintexts.
   */
  resealInto(plain: Buffer, context: string, out: Buffer, header: Uint8Array): number;
  /** Rejects with E_WRONG_KEY when authentication fails (wrong key, tampered or truncated data). */
  decrypt(sealed: Buffer, context: string): Buffer;
  decryptInto(sealed: Buffer, context: string, out: Buffer): number;
}
