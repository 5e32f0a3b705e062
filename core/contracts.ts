/**
 * The roles a plugin implements, a source (`SourcePlugin`) or a storage adapter (`StorageAdapter`), each member with its errors: `FailsafeError`s
 * (core/errors.ts) with the code named. test/conformance checks what is written here. A plain error from an adapter reaches callers through the
 * `Storage` facade as one: ENOENT as E_NOT_FOUND, EACCES/EPERM/EROFS as E_PERMISSION, an abort as E_ABORTED, anything else as E_STORAGE.
 */
import type { Readable } from 'node:stream';
import type { FileStamp } from './fs/file-stamp.js';

// ---------------------------------------------------------------- storage

/**
 * What an adapter does that the presence of its members cannot show; optional members (`getBuffer`, `filePath`, `cleanupTemp`, `lockedUntil`,
 * `extendLock`, `close`) declare themselves by being there. The core and the storage suite (test/conformance/storage.ts) branch on both.
 */
export interface StorageCapabilities {
  /** `get(key, { range })` reads only the bytes asked for; else the `Storage` facade reads the whole object and slices it. */
  rangeRead: boolean;
  /** Objects outlive the instance and the process (false for `memory`). Read by the suite: a second instance (`reopen`) must see them. */
  persistent: boolean;
  /** Optional: the store checks every put against a checksum of the bytes sent (AWS S3); `verifyUploads` then defaults to `off`. */
  verifiesChecksums?: boolean;
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
  /** Aborting rejects the call with E_ABORTED; a put then leaves nothing behind. */
  signal?: AbortSignal;
}

export interface PutOptions extends StorageOptions {
  /**
   * The SHA-256 (hex) of exactly the bytes of `body`, when the caller has computed it anyway: an adapter that sends a checksum for the store
   * to verify may send this one rather than hashing the body again. Only a hint: an adapter may ignore it, and must not trust it in place
   * of checking what it stored.
   */
  sha256?: string;
}

/**
 * A place where objects live: a folder, a bucket, a server. Keys are `/`-separated relative paths of `[A-Za-z0-9._-]` segments; the `Storage`
 * facade validates them (E_USAGE) before an adapter sees them. Besides the errors named below, any member may reject with what makes the whole
 * store unusable: E_PERMISSION, E_NOT_MOUNTED (a local disk that is not there), and for remote stores E_AUTH, E_TARGET_NOT_FOUND, E_UNREACHABLE.
 */
export interface StorageAdapter {
  /** The adapter's type name as used in YAML (`local`, `memory`, `s3`, …). */
  readonly type: string;
  /** Fixed for the adapter's life: read before any I/O. */
  readonly capabilities: StorageCapabilities;
  /**
   * Stores the whole stream under `key`, replacing any object there; resolves with the bytes stored. Always atomic (a requirement, not a
   * capability): until it resolves nobody sees the new object, and when it rejects (the stream's error, E_ABORTED, a full disk as E_STORAGE)
   * the previous object is untouched and nothing partial remains. A put that resolves means the object is the bytes given, exactly: an
   * adapter whose transport can damage bytes (a network without its own integrity check, such as plain HTTP) has the store verify a
   * checksum of them, or checks what was stored, and rejects (or tries again) rather than resolving over damaged data. The manifest is
   * written only after every put of the objects it names resolved, so a backup that succeeds is one that verifies.
   */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ size: number }>;
  /** The object's bytes, or `range` of them (only of a `rangeRead` adapter). Rejects with E_NOT_FOUND naming the key; read errors surface on the stream. */
  get(key: string, options?: StorageOptions & { range?: ByteRange }): Promise<Readable>;
  /** Optional: the whole object in one buffer rather than a stream of chunks (segments are read whole). Rejects as `get`. */
  getBuffer?(key: string, options?: StorageOptions): Promise<Buffer>;
  /**
   * Optional, for objects that are plain files on this machine: the file holding `key`, which the restore's worker
   * threads then read themselves. Does not check that the object exists; rejects as `get` for an unusable target.
   */
  filePath?(key: string): Promise<string>;
  /** The object's size and date, or `undefined` when it does not exist (never E_NOT_FOUND). */
  head(key: string, options?: StorageOptions): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (a string, not a folder), in ascending key order, never a temporary or partial one; an
   * object is listed as soon as its `put` resolves. A failure rejects the iteration. */
  list(prefix: string, options?: StorageOptions): AsyncIterable<ObjectInfo>;
  /** Removes the object; a missing key is not an error. */
  delete(key: string, options?: StorageOptions): Promise<void>;
  /** Optional: releases connections or handles; the adapter is unusable afterwards. */
  close?(): Promise<void>;
  /**
   * Optional: removes leftovers of interrupted writes (temp files, abandoned multipart uploads) older than `olderThanMs`, never a stored
   * object; resolves with how many. Called by prune, which reports a rejection as the target's failure.
   */
  cleanupTemp?(olderThanMs: number): Promise<number>;
  /** Optional, for stores with retention locks (S3 Object Lock, WORM): the lock's end, `undefined` when deletable now. Rejects as `head`. */
  lockedUntil?(key: string, options?: StorageOptions): Promise<Date | undefined>;
  /** Optional (S3 `objectLock`): the lock moved to the configured period from now, never earlier; `undefined` when set to lock nothing. */
  extendLock?(key: string, options?: StorageOptions): Promise<Date | undefined>;
}

// ---------------------------------------------------------------- sources

export type EntryType = 'file' | 'directory' | 'symlink';

/** One thing a source contributes to a snapshot. */
export interface SourceEntry {
  /** Path inside the source, `/`-separated, relative, never `..` or absolute; bytes that are not UTF-8 as core/fs/name-bytes.ts says. */
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
  /** Target of a symlink, as stored in the link. Owner and group ids below: restored only by a restore running as root. */
  linkTarget?: string;
  uid?: number;
  gid?: number;
  /** A file: an earlier file of this source it is a hard link to; `sparse`: it has holes (a restore leaves zero blocks unwritten). */
  hardLink?: string;
  sparse?: boolean;
  /** Opens a stream of exactly `size` bytes; it fails with E_SOURCE_CHANGED when the file changes while read, E_SOURCE_READ when a read fails. */
  open?(): Readable;
  /**
   * Optional fast path for a local file: the core reads `localFile.path` itself, with positional reads straight into its segment buffers,
   * and does not call `open` (still required, for other readers). A failed open or read is E_SOURCE_READ naming the source and the path.
   */
  localFile?: LocalFile;
}

/** What changed in a file between its enumeration and the end of its read. */
export type LocalFileChange = 'shrank' | 'grew' | 'changed';

export interface LocalFile {
  /** Path of the regular file; it is opened read-only, symlinks followed. */
  path: string;
  /** Optional: its stamp from the stat that listed it, before any read; the files cache then stats it no more. */
  stamp?: FileStamp;
  /**
   * Called once the file is read when it no longer matches its entry: `shrank` (the archived copy is padded with zeros
   * to `size`), `grew` (the copy is cut at `size`) or `changed` (same size, another mtime). Throw (E_SOURCE_CHANGED) to
   * fail the backup; return to keep the copy (after a warning, say).
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
  /** The file's bytes, to consume (or resume) before the next entry arrives; fails with E_CHECKSUM or E_CORRUPT on damaged data. */
  body?: Readable;
  /** A small file's whole bytes, already checked against its SHA-256 (`body` then reads the same bytes). */
  content?: Buffer;
  /**
   * A file's bytes without a stream or a copy, for a plugin that writes each chunk before asking for the next: a chunk is valid only until the
   * next is requested, or the next entry (its memory is reused). Use this or `body`/`content`, not both; those are safe to keep.
   */
  chunks?(): AsyncIterable<Buffer>;
}

/** What the core hands a source's `restore` and `applyRestore` (the API's own `RestoreOptions` is api/failsafe.ts'). */
export interface SourceRestoreOptions {
  /** Aborting rejects the restore with E_ABORTED. */
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
   * Files that belong to the live data without being archived (a database's `-wal`, `-shm` and `-journal`): a restore moves them aside
   * together with `livePath`, so no stale companion is ever paired with restored data.
   */
  companions?: string[];
}

export interface SourcePlugin {
  /** The plugin's type name as used in YAML (`directory`, `config-file`, …). */
  readonly type: string;
  /** The source's name inside the snapshot: unique per job, a single path segment. */
  readonly name: string;
  /** Optional: takes a snapshot or a dump before enumeration. Rejects with E_SOURCE_MISSING or E_SOURCE_READ. */
  prepare?(context: SourceContext): Promise<void>;
  /**
   * The entries to archive, parents before children. Rejects with E_SOURCE_MISSING when the source does not exist,
   * E_SOURCE_READ when it cannot be read, E_ABORTED once `context.signal` aborts.
   */
  entries(context: SourceContext): AsyncIterable<SourceEntry>;
  /** Optional: always called after a backup attempt, success or not, when `prepare` was. Must not throw. */
  cleanup?(): Promise<void>;
  /** Optional: facts recorded in the manifest (e.g. a database's page size), JSON-serialisable. Must not throw. */
  describe?(): Record<string, unknown>;
  /** Where this source's data lives, for an in-place restore; empty when it is not a path here. Must not throw. */
  liveLocations(): LiveLocation[];
  /** Optional: its options leave `path` (inside the source) out of snapshots (`exclude`): an in-place restore leaves it be. */
  leavesOut?(path: string): boolean;
  /**
   * Writes the entries under `destination` (a directory, created if needed), keeping modes and mtimes; resolves with the number written.
   * Rejects with E_UNSAFE_PATH, without writing it, for an entry that would land outside `destination`; a failed write with its errno's code
   * (E_PERMISSION, E_STORAGE: `fromNodeError`).
   */
  restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number>;
  /**
   * Optional: called with the live paths just before a restore swaps them, after the staged copy passed `check`.
   * Rejects with E_DB_BUSY (or another code) when the live data is in use and must not be replaced now; nothing changes.
   */
  beforeSwap?(livePaths: string[]): Promise<void>;
  /** Optional: a usability check of data `restore` wrote under `restoredPath`. Rejects with E_CHECK_FAILED and a reason. */
  check?(restoredPath: string): Promise<void>;
  /**
   * Optional, for live data that is not a path here (a database server fed by a restore command; `liveLocations()` is
   * empty): an in-place restore stages the entries, runs `check`, then calls this instead of a swap. Rejects with E_RESTORE.
   */
  applyRestore?(restoredPath: string, options: SourceRestoreOptions): Promise<void>;
  /** Optional: `check` where the data lives, right after an in-place swap; a rejection (E_CHECK_FAILED) rolls the whole restore back. */
  checkLive?(): Promise<void>;
}

// ---------------------------------------------------------------- codecs

/**
 * The compression role: one segment compressed or decompressed on the calling thread, in the pipeline's worker
 * threads. core/codec/compression.ts makes the built-in ones; a job may register its own (core/codec/stages.ts: a
 * module exporting `(level: number) => SegmentCodec`). Checked by the published `describeSegmentCodecConformance` suite.
 */
export interface SegmentCodec {
  /** The name recorded in each snapshot; a snapshot is read with the codec registered under it. */
  readonly algorithm: string;
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
