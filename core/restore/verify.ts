/**
 * Verifying a snapshot. Without `readData`: the manifest authenticates and
 * every segment object exists with its recorded size. With `readData`: every
 * segment is downloaded, checked, decrypted and decompressed, and every file
 * in the tar stream is checked against its SHA-256.
 */
import { FailsafeError, isFailsafeError } from '../errors.js';
import { archiveEntries, checksEveryFile } from '../read/archive.js';
import { segmentStream } from '../read/segments.js';
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
}

export async function verifySnapshot(
  snapshot: OpenedSnapshot,
  options: { readData?: boolean; signal?: AbortSignal; parallelism?: number } = {},
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
      report.checked += await snapshot.chunked.check(options.readData === true, options.signal);
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
      for await (const _entry of archiveEntries(stream, manifest.entries, `${storage.targetName}:${manifest.job}/${manifest.id}`)) {
        // Only counted: archiveEntries reads and checks every body it passes, even one nobody asks for.
        report.checked++;
      }
      report.checked += manifest.segments.length;
    } catch (err) {
      fail(err, isFailsafeError(err) ? err.object : undefined);
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}
