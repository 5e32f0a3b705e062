/**
 * The collect stage: every source's entries, in order, written as one tar
 * stream straight into segment buffers (core/pipeline/segmenter.ts), each
 * entry named `<source>/<path>`. Headers are tar-stream's, byte for byte
 * (core/pipeline/tar-header.ts). A file a source hands as a local path is
 * read into the segments in place (core/pipeline/local-file.ts), small ones
 * read ahead several at once; any other file body comes from the entry's
 * `open()` stream and is copied in. While writing it records each entry's
 * offset (segment and offset of its first header) and each file's SHA-256,
 * which the manifest needs to find and check any single file later.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { SourceContext, SourceEntry, SourcePlugin } from '../contracts.js';
import { assertNotAllLeftOut, isLeftOut } from '../backup/source-errors.js';
import { FailsafeError } from '../errors.js';
import type { ManifestEntry, ManifestSource } from '../format/manifest.js';
import { normalizeArchivePath } from '../fs/paths.js';
import { copyLocalFile, padHashed } from './local-file.js';
import { readAhead, type AheadEntry } from './read-ahead.js';
import { Segmenter } from './segmenter.js';
import { BLOCK, encodeHeader, paddingOf } from './tar-header.js';
import type { SegmentWindow } from './window.js';

/** Local files up to this size are read ahead, this many at once. */
const SMALL_FILE = 256 * 1024;
const READ_AHEAD_FILES = 16;

export interface CollectProgress {
  file?: string;
  bytesRead: number;
  files: number;
}

export interface Collected {
  entries: ManifestEntry[];
  sources: ManifestSource[];
}

export interface CollectOptions {
  segmentSize: number;
  context: SourceContext;
  /** Segments alive at once; without it the reader's pace holds the writer back. */
  window?: SegmentWindow;
  /** Plaintext segment buffers at most, the one being filled included (default: as many as the window lets live). */
  buffers?: number;
  onEntry?: (progress: CollectProgress) => void;
}

export interface Collection {
  /** `PlainSegment`s in order (object mode); when a source fails it ends early and `done` rejects. */
  segments: Readable;
  /** Nothing reads segment `index`'s plaintext any more (it is sealed): its buffer may hold a later one. */
  recycle(index: number): void;
  done: Promise<Collected>;
}

export function collect(sources: SourcePlugin[], options: CollectOptions): Collection {
  const out = new Segmenter(options.segmentSize, options.window, options.buffers);
  const entries: ManifestEntry[] = [];
  const summaries: ManifestSource[] = [];
  const progress: CollectProgress = { bytesRead: 0, files: 0 };
  const signal = options.context.signal;

  const run = async (): Promise<Collected> => {
    for (const source of sources) {
      const summary: ManifestSource = { name: source.name, type: source.type, entries: 0, bytes: 0 };
      const warnings: string[] = [];
      const context: SourceContext = {
        ...options.context,
        warn: (message) => {
          warnings.push(message);
          options.context.warn(message);
        },
      };
      for await (const ahead of readAhead(source.entries(context), { source: source.name, files: READ_AHEAD_FILES, fileSize: SMALL_FILE })) {
        signal?.throwIfAborted();
        const { entry } = ahead;
        const path = normalizeArchivePath(entry.path);
        const offset = out.position;
        const sha = await writeEntry(out, source.name, `${source.name}/${path}`, ahead, progress, signal);
        entries.push(manifestEntry(source.name, path, entry, sha, offset, options.segmentSize));
        summary.entries++;
        if (entry.type === 'file') {
          summary.bytes += entry.size;
          progress.files++;
        }
        progress.file = `${source.name}/${path}`;
        options.onEntry?.(progress);
      }
      // A source that failed before its first entry (onSourceError: continue) is not in the snapshot at all.
      if (isLeftOut(source)) continue;
      const meta = source.describe?.();
      if (meta) summary.meta = meta;
      if (warnings.length > 0) summary.warnings = warnings;
      summaries.push(summary);
    }
    assertNotAllLeftOut(sources);
    await out.zeros(2 * BLOCK);
    await out.end();
    return { entries, sources: summaries };
  };

  const done = run().catch((err: unknown) => {
    out.abandon(err as Error);
    throw err;
  });
  done.catch(() => undefined); // the caller awaits it, once the segments before the failure are stored
  return { segments: out.segments, recycle: (index) => out.recycle(index), done };
}

/** What the manifest records of an entry written at `offset` of the archive: enough to find and check it alone. */
function manifestEntry(source: string, path: string, entry: SourceEntry, sha256: string | undefined, offset: number, segmentSize: number): ManifestEntry {
  return {
    source,
    path,
    type: entry.type,
    size: entry.type === 'file' ? entry.size : 0,
    mode: entry.mode,
    mtime: entry.mtime.toISOString(),
    ...(entry.linkTarget === undefined ? {} : { linkTarget: entry.linkTarget }),
    ...(entry.uid === undefined ? {} : { uid: entry.uid }),
    ...(entry.gid === undefined ? {} : { gid: entry.gid }),
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(entry.type === 'file' && entry.hardLink !== undefined ? { hardLink: normalizeArchivePath(entry.hardLink) } : {}),
    ...(entry.type === 'file' && entry.sparse ? { sparse: true } : {}),
    segment: Math.floor(offset / segmentSize),
    offset: offset % segmentSize,
  };
}

async function writeEntry(
  out: Segmenter,
  source: string,
  name: string,
  ahead: AheadEntry,
  progress: CollectProgress,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { entry } = ahead;
  const size = entry.type === 'file' ? entry.size : 0;
  const header = encodeHeader({
    name,
    type: entry.type,
    mode: entry.mode,
    mtime: entry.mtime,
    size,
    uid: entry.uid,
    gid: entry.gid,
    linkname: entry.type === 'symlink' ? (entry.linkTarget ?? '') : undefined,
  });
  if (entry.type !== 'file') {
    await out.write(header);
    return undefined;
  }
  const hash = createHash('sha256');
  const counted = (n: number): void => void (progress.bytesRead += n);
  if (ahead.body) {
    const body = await ahead.body;
    try {
      if (body.change) entry.localFile!.changed(body.change);
      await out.write(header);
      await out.write(body.bytes);
      hash.update(body.bytes);
      counted(body.bytes.length);
    } finally {
      body.release();
    }
    await padHashed(out, size - body.length, hash);
  } else if (entry.localFile) {
    await out.write(header);
    await copyLocalFile({ source, file: entry.localFile, size, mtime: entry.mtime }, out, hash, counted, signal);
  } else {
    await out.write(header);
    await copyStream(out, name, entry, hash, counted);
  }
  await out.zeros(paddingOf(size));
  return hash.digest('hex');
}

async function copyStream(out: Segmenter, name: string, entry: SourceEntry, hash: Hash, counted: (n: number) => void): Promise<void> {
  if (!entry.open) throw new FailsafeError('E_SOURCE_READ', `${name}: the source gave a file without a way to open it`);
  let written = 0;
  for await (const chunk of entry.open() as AsyncIterable<Buffer>) {
    written += chunk.length;
    if (written > entry.size) throw new FailsafeError('E_SOURCE_CHANGED', `${name}: the source gave more bytes than the ${entry.size} it announced`);
    hash.update(chunk);
    counted(chunk.length);
    await out.write(chunk);
  }
  if (written !== entry.size) throw new FailsafeError('E_SOURCE_CHANGED', `${name}: the source gave ${written} bytes instead of ${entry.size}`);
}
