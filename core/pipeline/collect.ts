/**
 * The collect stage: every source's entries, in order, as one tar stream
 * (tar-stream), each entry named `<source>/<path>`. While packing it records
 * each entry's offset in the tar stream and each file's SHA-256, which the
 * manifest needs to find and check any single file later.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import type { SourceContext, SourceEntry, SourcePlugin } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { ManifestEntry, ManifestSource } from '../format/manifest.js';
import { normalizeArchivePath } from '../paths.js';

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
  onEntry?: (progress: CollectProgress) => void;
}

export function collect(sources: SourcePlugin[], options: CollectOptions): { stream: Readable; done: Promise<Collected> } {
  const pack = tarPack();
  // tar-stream emits every byte through push(), synchronously from entry();
  // counting there gives exact header offsets, including PAX headers.
  let tarOffset = 0;
  const push = pack.push.bind(pack);
  pack.push = (data: Buffer | Uint8Array | null) => {
    if (data) tarOffset += data.byteLength;
    return push(data);
  };

  const entries: ManifestEntry[] = [];
  const summaries: ManifestSource[] = [];
  const progress: CollectProgress = { bytesRead: 0, files: 0 };

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
      for await (const entry of source.entries(context)) {
        options.context.signal?.throwIfAborted();
        const path = normalizeArchivePath(entry.path);
        const offset = tarOffset;
        const sha = await addEntry(pack, `${source.name}/${path}`, entry, progress);
        entries.push({
          source: source.name,
          path,
          type: entry.type,
          size: entry.type === 'file' ? entry.size : 0,
          mode: entry.mode,
          mtime: entry.mtime.toISOString(),
          ...(entry.linkTarget === undefined ? {} : { linkTarget: entry.linkTarget }),
          ...(entry.uid === undefined ? {} : { uid: entry.uid }),
          ...(entry.gid === undefined ? {} : { gid: entry.gid }),
          ...(sha === undefined ? {} : { sha256: sha }),
          segment: Math.floor(offset / options.segmentSize),
          offset: offset % options.segmentSize,
        });
        summary.entries++;
        if (entry.type === 'file') {
          summary.bytes += entry.size;
          progress.files++;
        }
        progress.file = `${source.name}/${path}`;
        options.onEntry?.(progress);
      }
      const meta = source.describe?.();
      if (meta) summary.meta = meta;
      if (warnings.length > 0) summary.warnings = warnings;
      summaries.push(summary);
    }
    pack.finalize();
    return { entries, sources: summaries };
  };

  const done = run().catch((err: unknown) => {
    pack.destroy(err as Error);
    throw err;
  });
  done.catch(() => undefined); // the caller awaits it; the stream also carries the error
  return { stream: Readable.from(pack, { objectMode: false, highWaterMark: 1024 * 1024 }), done };
}

async function addEntry(pack: Pack, name: string, entry: SourceEntry, progress: CollectProgress): Promise<string | undefined> {
  const header: Partial<Header> & { name: string } = {
    name,
    type: entry.type,
    mode: entry.mode,
    mtime: entry.mtime,
    size: entry.type === 'file' ? entry.size : 0,
    ...(entry.uid === undefined ? {} : { uid: entry.uid }),
    ...(entry.gid === undefined ? {} : { gid: entry.gid }),
  };
  if (entry.type === 'symlink') header.linkname = entry.linkTarget ?? '';
  if (entry.type !== 'file') {
    await new Promise<void>((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
    return undefined;
  }
  if (!entry.open) throw new FailsafeError('E_SOURCE_READ', `${name}: the source gave a file without a way to open it`);
  const hash = createHash('sha256');
  // A streamx Writable; its write/drain/end behave as Node's.
  let sink!: Writable;
  const finished = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as Writable;
  });
  finished.catch(() => undefined); // awaited below; an early throw leaves the pack to be destroyed by the caller
  // Destroying the pack after a source error also errors this sink; the entry callback already reports it.
  sink.on('error', () => undefined);
  let written = 0;
  for await (const chunk of entry.open() as AsyncIterable<Buffer>) {
    written += chunk.length;
    if (written > entry.size) throw new FailsafeError('E_SOURCE_CHANGED', `${name}: the source gave more bytes than the ${entry.size} it announced`);
    hash.update(chunk);
    progress.bytesRead += chunk.length;
    if (!sink.write(chunk)) await once(sink, 'drain');
  }
  if (written !== entry.size) throw new FailsafeError('E_SOURCE_CHANGED', `${name}: the source gave ${written} bytes instead of ${entry.size}`);
  sink.end();
  await finished;
  return hash.digest('hex');
}
