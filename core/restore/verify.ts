/**
 * Verifying a snapshot. Without `readData`: the manifest authenticates and
 * every segment object exists with its recorded size. With `readData`: every
 * segment is downloaded, checked, decrypted and decompressed, and every file
 * in the tar stream is checked against its SHA-256.
 */
import { FailsafeError, isFailsafeError } from '../errors.js';
import { archiveEntries, checksEveryFile } from '../read/archive.js';
import { segmentStream } from '../read/segments.js';
import type { ManifestHeader } from '../format/manifest.js';
import { Repository } from '../repository/repository.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';

export interface VerifyProblem {
  id: string;
  job: string;
  target: string;
  /** The object concerned, when one is. */
  object?: string;
  code: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Objects (or, with readData, objects and files) checked. */
  checked: number;
  errors: VerifyProblem[];
  /** Snapshots checked by their public header only, for want of a key that opens them; absent when none. */
  headerOnly?: number;
}

/** File bytes read and checked so far, of the snapshot's total. */
export type ReadProgress = (done: number, total: number) => void;

export async function verifySnapshot(
  snapshot: OpenedSnapshot,
  options: { readData?: boolean; signal?: AbortSignal; parallelism?: number; onProgress?: ReadProgress } = {},
): Promise<VerifyReport> {
  const { manifest, storage } = snapshot;
  const base = { id: manifest.id, job: manifest.job, target: storage.targetName };
  const report: VerifyReport = { ok: true, checked: 1, errors: [] };
  const fail = (err: unknown, object?: string): void => {
    const e = isFailsafeError(err) ? err : new FailsafeError('E_STORAGE', String((err as Error)?.message ?? err), { cause: err });
    report.errors.push({ ...base, ...(object === undefined ? {} : { object }), code: e.code, message: e.message });
  };

  if (snapshot.chunked) {
    try {
      report.checked += await snapshot.chunked.check(options.readData === true, options.signal, options.onProgress);
    } catch (err) {
      fail(err, isFailsafeError(err) ? err.object : undefined);
    }
  } else if (!options.readData) {
    for (const record of manifest.segments) {
      report.checked++;
      try {
        const info = await storage.head(record.key, { signal: options.signal });
        if (!info) fail(new FailsafeError('E_CORRUPT', `segment object ${storage.targetName}:${record.key} is missing`), record.key);
        else if (info.size !== record.storedSize) {
          fail(
            new FailsafeError('E_CHECKSUM', `segment object ${storage.targetName}:${record.key} has ${info.size} bytes, expected ${record.storedSize}`),
            record.key,
          );
        }
      } catch (err) {
        fail(err, record.key);
      }
    }
  } else {
    try {
      const stream = segmentStream(snapshot, {
        ahead: options.parallelism ?? 2,
        contentChecked: checksEveryFile(manifest.entries),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const total = manifest.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0);
      let done = 0;
      for await (const entry of archiveEntries(stream, manifest.entries, `${storage.targetName}:${manifest.job}/${manifest.id}`)) {
        // Only counted: archiveEntries reads and checks every body it passes, even one nobody asks for.
        report.checked++;
        // The entries before this one are read and checked.
        options.onProgress?.(done, total);
        if (entry.type === 'file') done += entry.size;
      }
      options.onProgress?.(total, total);
      report.checked += manifest.segments.length;
    } catch (err) {
      fail(err, isFailsafeError(err) ? err.object : undefined);
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}

/**
 * Without a key that opens the manifest (a host with public keys only), what its public header promises: the
 * snapshot's segment objects are all there, named by their index, and add up to its stored bytes. The header
 * itself cannot be authenticated without a key: this finds lost and truncated objects, not forged ones.
 */
export async function verifyByHeader(repository: Repository, header: ManifestHeader, options: { signal?: AbortSignal } = {}): Promise<VerifyReport> {
  const { id, job, stats } = header;
  const { storage } = repository;
  const sizes = new Map<string, number>();
  for await (const object of repository.snapshotData(job, id, options)) sizes.set(object.key, object.size);
  const errors: VerifyProblem[] = [];
  const problem = (code: string, message: string, object?: string): number =>
    errors.push({ id, job, target: storage.targetName, ...(object === undefined ? {} : { object }), code, message });
  let total = 0;
  for (let index = 0; index < stats.segments; index++) {
    const key = Repository.segmentKey(job, id, index);
    const size = sizes.get(key);
    if (size === undefined) problem('E_CORRUPT', `segment object ${storage.targetName}:${key} is missing`, key);
    else total += size;
  }
  if (errors.length === 0 && total !== stats.storedBytes)
    problem('E_CHECKSUM', `the segments of ${storage.targetName}:${job}/${id} hold ${total} bytes, its header says ${stats.storedBytes}`);
  return { ok: errors.length === 0, checked: 1 + stats.segments, errors, headerOnly: 1 };
}
