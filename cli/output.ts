/** Human output of the CLI. */
import { createInterface } from 'node:readline/promises';
import { describeRetries, type RetryCounts } from '../core/repository/retry-counts.js';
import type { SnapshotBasics, SnapshotInfo } from '../core/repository/snapshots.js';

export interface Io {
  /** Where a confirmation is read from; without it (or when it is not a terminal) nothing can be confirmed. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

/** A snapshot as `--json` prints it (docs: backup and list share this shape). */
type SnapshotJson = Pick<SnapshotInfo, 'id' | 'job' | 'target' | 'createdAt' | 'bytes' | 'files' | 'tags' | 'signature' | 'wentBackwards'>;

export function snapshotJson(s: SnapshotBasics & Pick<SnapshotInfo, 'signature' | 'wentBackwards'>): SnapshotJson {
  const { tags, signature, wentBackwards } = s;
  return {
    ...{ id: s.id, job: s.job, target: s.target, createdAt: s.createdAt, bytes: s.bytes, files: s.files },
    ...(tags ? { tags } : {}),
    ...(signature ? { signature } : {}),
    ...(wentBackwards ? { wentBackwards } : {}),
  };
}

/** `transfers retried: 2 uploads sent again` as a line of a command's human output, or '' when nothing was retried. */
export function retriesLine(retries: RetryCounts | undefined): string {
  const described = retries ? describeRetries(retries) : '';
  return described === '' ? '' : `transfers retried: ${described}\n`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatSnapshots(snapshots: SnapshotInfo[]): string {
  if (snapshots.length === 0) return 'no snapshots\n';
  const tagged = snapshots.some((s) => s.tags);
  const signed = snapshots.some((s) => s.signature);
  const noted = snapshots.some((s) => s.wentBackwards);
  const rows = [
    ['ID', 'JOB', 'TARGET', 'CREATED', 'FILES', 'SIZE', 'STORED', ...(tagged ? ['TAGS'] : []), ...(signed ? ['SIGNED'] : []), ...(noted ? ['NOTE'] : [])],
  ];
  for (const s of snapshots) {
    const tags = tagged ? [(s.tags ?? []).join(',')] : [];
    const marks = [
      ...(signed ? [s.signature ?? ''] : []),
      ...(noted ? [s.wentBackwards ? `went backwards: ${s.wentBackwards.seenId} seen here before` : ''] : []),
    ];
    rows.push([
      s.id,
      s.job,
      s.target,
      s.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      String(s.files),
      formatBytes(s.bytes),
      formatBytes(s.storedBytes),
      ...tags,
      ...marks,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/**
 * A yes/no question on the terminal, asked the same way by every command: on stderr, so that stdout stays one
 * JSON document with --json; "y" or "yes" is a yes, anything else a no.
 */
export async function askYesNo(io: Io, question: string): Promise<boolean> {
  const prompt = createInterface({ input: io.stdin!, output: io.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} (yes/no) `)).trim());
  } finally {
    prompt.close();
  }
}
