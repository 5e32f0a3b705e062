/**
 * `failsafe dump`: one file's bytes, or a source or folder as a tar stream,
 * out of a snapshot without restoring it. Only what the selection needs is
 * read: format 1 starts at the segment and offset the manifest records for
 * the first selected entry and stops after the last one; format 2 reads only
 * the selected files' chunks. Every byte is checked as a restore checks it.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Header } from 'tar-stream';

type TarHeader = Partial<Header> & Pick<Header, 'name'>;
import { FailsafeError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/format/manifest.js';
import { archiveEntries, checksEveryFile, type ArchiveEntry } from '../../core/read/archive.js';
import { segmentStream } from '../../core/read/segments.js';
import type { OpenedSnapshot, SnapshotInfo } from '../../core/repository/snapshots.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';
import { isUnder } from './browse.js';
import { findSnapshot } from './select.js';

export interface DumpOptions extends SelectOptions {
  signal?: AbortSignal;
}

export interface DumpResult {
  snapshot: SnapshotInfo;
  /** `file`: the file's bytes alone; `tar`: a tar stream of the entries under the path. */
  kind: 'file' | 'tar';
  entries: number;
  /** File bytes written (without tar headers). */
  bytes: number;
}

/** Writes what is at `path` (`<source>`, `<source>/<folder>` or `<source>/<file>`) in the snapshot to `output`, which it leaves open. */
export async function dump(deployment: Deployment, ref: string, path: string, output: NodeJS.WritableStream, options: DumpOptions = {}): Promise<DumpResult> {
  const prefix = path.replace(/^\/+|\/+$/g, '');
  if (prefix === '') throw new FailsafeError('E_USAGE', 'dump needs a path: a source name, or a folder or file inside one (see `failsafe ls`)');
  const { repository, info } = await findSnapshot(deployment, ref, options);
  const stages = deployment.config.jobs[info.job] ? deployment.catalog(info.job) : undefined;
  const snapshot = await repository.openSnapshot(info.job, info.id, await deployment.encryption('open'), stages);
  const wanted = snapshot.manifest.entries.filter((e) => isUnder(e, prefix));
  if (wanted.length === 0)
    throw new FailsafeError('E_NOT_FOUND', `nothing at "${prefix}" in snapshot ${info.id} (paths start with a source name: see \`failsafe ls ${info.id}\`)`);
  const single = wanted.length === 1 && wanted[0]!.type === 'file' && `${wanted[0]!.source}/${wanted[0]!.path}` === prefix;
  const entries = selectedEntries(snapshot, wanted, options.signal);
  const written = single ? await writeFile(entries, output) : await writeTar(entries, output);
  return { snapshot: info, kind: single ? 'file' : 'tar', ...written };
}

/** The wanted entries (in archive order) with their checked bytes, reading as little of the snapshot as its format allows. */
async function* selectedEntries(snapshot: OpenedSnapshot, wanted: ManifestEntry[], signal?: AbortSignal): AsyncGenerator<ArchiveEntry> {
  const keys = new Set(wanted.map((e) => `${e.source}\0${e.path}`));
  const only = (e: ManifestEntry): boolean => keys.has(`${e.source}\0${e.path}`);
  if (snapshot.chunked) {
    yield* snapshot.chunked.entries(new Set(wanted.map((e) => e.source)), signal, only);
    return;
  }
  const { manifest, storage } = snapshot;
  const first = wanted[0]!;
  const stream = segmentStream(snapshot, {
    from: first.segment,
    skip: first.offset,
    contentChecked: checksEveryFile(manifest.entries),
    ...(signal ? { signal } : {}),
  });
  let left = wanted.length;
  // Entries between the wanted ones are read (and checked) to get past them; after the last one nothing more is.
  for await (const entry of archiveEntries(stream, manifest.entries, `${storage.targetName}:${manifest.job}/${manifest.id}`)) {
    if (!only(entry.record)) continue;
    yield entry;
    if (--left === 0) return;
  }
  if (left > 0) throw new FailsafeError('E_CORRUPT', `${storage.targetName}:${manifest.job}/${manifest.id}: ${left} listed entries are not in the archive`);
}

/** The bytes of a file entry, checked as they pass; copies (not `chunks`, whose memory is reused), as a write may hold on to them. */
async function* bytesOf(entry: ArchiveEntry): AsyncGenerator<Buffer> {
  if (entry.body) for await (const chunk of entry.body) yield chunk as Buffer;
  else if (entry.content) yield entry.content;
}

/** Writes to `output` as fast as it takes the bytes, without ending it (it may be the process's stdout). */
async function write(output: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  if (!output.write(chunk)) await once(output, 'drain');
}

async function writeFile(entries: AsyncGenerator<ArchiveEntry>, output: NodeJS.WritableStream): Promise<{ entries: number; bytes: number }> {
  let bytes = 0;
  for await (const entry of entries) {
    for await (const chunk of bytesOf(entry)) {
      bytes += chunk.length;
      await write(output, chunk);
    }
  }
  return { entries: 1, bytes };
}

function tarHeader(entry: ArchiveEntry): TarHeader {
  const name = `${entry.source}/${entry.path}`;
  const common = {
    mode: entry.mode,
    mtime: entry.mtime,
    ...(entry.uid === undefined ? {} : { uid: entry.uid }),
    ...(entry.gid === undefined ? {} : { gid: entry.gid }),
  };
  if (entry.type === 'directory') return { ...common, name: `${name}/`, type: 'directory' };
  if (entry.type === 'symlink') return { ...common, name, type: 'symlink', linkname: entry.linkTarget ?? '' };
  return { ...common, name, type: 'file', size: entry.size };
}

async function writeTar(entries: AsyncGenerator<ArchiveEntry>, output: NodeJS.WritableStream): Promise<{ entries: number; bytes: number }> {
  const tar = pack();
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => void write(output, chunk).then(() => done(), done) });
  const piping = pipeline(tar, sink);
  let count = 0;
  let bytes = 0;
  try {
    for await (const entry of entries) {
      count++;
      const header = tarHeader(entry);
      if (header.type !== 'file') {
        tar.entry(header);
        continue;
      }
      let body: ReturnType<typeof tar.entry> | undefined;
      const written = new Promise<void>((resolve, reject) => (body = tar.entry(header, (err) => (err ? reject(err) : resolve()))));
      for await (const chunk of bytesOf(entry)) {
        bytes += chunk.length;
        if (!body!.write(chunk)) await once(body!, 'drain');
      }
      body!.end(undefined);
      await written;
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await piping.catch(() => undefined);
    throw err;
  }
  await piping;
  return { entries: count, bytes };
}
