/**
 * The files cache of a deduplicating backup: per file of the previous
 * backup of this job to this repository, its size, mtime, ctime and inode
 * and its chunk ids, so an unchanged file is not read again (restic's and
 * Borg's files cache). It lives in a cache folder on this machine, holds no
 * secret and no content (ids are keyed hashes), and is only ever a hint:
 * a missing or damaged cache costs time, never correctness. A file is
 * trusted to it only when its times are older than the backup's start by
 * more than a second (Borg's rule: a file changed within the same timestamp
 * could change again unseen), and an entry whose chunks the index lacks is
 * read again.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { fsPath } from '../fs/name-bytes.js';
import { stampOf, type FileStamp } from '../fs/file-stamp.js';
import type { LocalFile } from '../contracts.js';

export type Stamp = FileStamp;

interface Cached extends Stamp {
  chunks: string[];
}

const FORMAT = 'failsafe-files-cache/1';
const RECENT_NS = 1_000_000_000n;

export class FilesCache {
  readonly #previous: Map<string, Cached>;
  readonly #next = new Map<string, Cached>();
  /** Whether `record` added an entry: without one, `#next` holds only entries of `#previous`, unchanged. */
  #recorded = false;
  /** Files found unchanged, and those read. */
  hits = 0;
  misses = 0;

  private constructor(
    readonly file: string | undefined,
    previous: Map<string, Cached>,
    readonly startedNs: bigint,
  ) {
    this.#previous = previous;
  }

  /** The cache at `file` (none: every file is read); unreadable or damaged, it is empty. */
  static async open(file: string | undefined, options: { forceReread?: boolean; now?: Date } = {}): Promise<FilesCache> {
    const started = BigInt((options.now ?? new Date()).getTime()) * 1_000_000n;
    if (!file || options.forceReread) return new FilesCache(file, new Map(), started);
    return new FilesCache(file, await load(file), started);
  }

  /** The chunk ids of `path` from the last backup when the file is unchanged since and `present` has every chunk. */
  async lookup(key: string, file: LocalFile, size: number, present: (id: Buffer) => boolean): Promise<Buffer[] | undefined> {
    const cached = this.#previous.get(key);
    const stamp = cached && cached.size === size && (file.stamp ?? (await statStamp(file.path)));
    if (!cached || !stamp || !sameStamp(cached, stamp)) return this.#miss();
    const ids = cached.chunks.map((c) => Buffer.from(c, 'base64'));
    if (!ids.every((id) => id.length === 32 && present(id))) return this.#miss();
    this.hits++;
    this.#next.set(key, cached);
    return ids;
  }

  /** What `record` needs of a file, taken before it is read. */
  stamp(file: LocalFile): Promise<Stamp | undefined> {
    return file.stamp ? Promise.resolve(file.stamp) : statStamp(file.path);
  }

  /** Remembers a file's chunk ids under its stamp from before the read (a file changed meanwhile differs next time), unless its times are too recent to trust next time. */
  record(key: string, stamp: Stamp, chunks: Buffer[]): void {
    if (this.startedNs - BigInt(stamp.mtimeNs) <= RECENT_NS || this.startedNs - BigInt(stamp.ctimeNs) <= RECENT_NS) return;
    this.#next.set(key, { ...stamp, chunks: chunks.map((c) => c.toString('base64')) });
    this.#recorded = true;
  }

  /**
   * Writes what this backup saw, replacing the previous cache (after the snapshot exists). A backup that
   * found every file of the last one unchanged and read none would write the same entries again: it
   * writes nothing, and spares an unchanged re-run the encoding and the two fsyncs.
   */
  async save(): Promise<void> {
    if (!this.file) return;
    if (!this.#recorded && this.#next.size === this.#previous.size) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const lines = [JSON.stringify({ format: FORMAT }), ...[...this.#next].map(([key, value]) => JSON.stringify([key, value]))];
    await writeFileAtomic(this.file, Buffer.from(`${lines.join('\n')}\n`), { mode: 0o600 });
  }

  #miss(): undefined {
    this.misses++;
    return undefined;
  }
}

async function statStamp(path: string): Promise<Stamp | undefined> {
  try {
    return stampOf(await stat(fsPath(path), { bigint: true }));
  } catch {
    return undefined;
  }
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

async function load(file: string): Promise<Map<string, Cached>> {
  const entries = new Map<string, Cached>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return entries;
  }
  const lines = text.split('\n');
  try {
    if ((JSON.parse(lines[0] ?? '') as { format?: unknown }).format !== FORMAT) return entries;
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const [key, value] = JSON.parse(line) as [unknown, Partial<Cached>];
      if (typeof key === 'string' && isCached(value)) entries.set(key, value);
    }
  } catch {
    return new Map();
  }
  return entries;
}

function isCached(v: Partial<Cached> | undefined): v is Cached {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.size === 'number' &&
    typeof v.mtimeNs === 'string' &&
    typeof v.ctimeNs === 'string' &&
    typeof v.ino === 'string' &&
    Array.isArray(v.chunks) &&
    v.chunks.every((c) => typeof c === 'string')
  );
}
