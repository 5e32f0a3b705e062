/**
 * `failsafe stats`: per target, what is stored, what the snapshots hold in
 * full, the ratio of the two, and what each snapshot added. A deduplicating
 * repository's figures come from its objects' sizes and its snapshots'
 * public headers (core/dedup/stats.ts); a format-1 snapshot added what it
 * stored. Needs no key.
 */
import { FailsafeError } from '../../core/errors.js';
import { pickDefined } from '../../core/util/defined.js';
import type { Deployment } from '../container.js';
import { compareText } from '../../core/util/order.js';

export interface SnapshotStatsLine {
  job: string;
  id: string;
  createdAt: string;
  format: 1 | 2;
  /** The snapshot's data in full, and what its backup added to the target. */
  bytes: number;
  addedBytes: number;
}

export interface TargetStats {
  target: string;
  storedBytes: number;
  logicalBytes: number;
  /** logicalBytes / storedBytes: deduplication and compression together (0 when empty). */
  ratio: number;
  snapshots: SnapshotStatsLine[];
}

export interface StatsOptions {
  target?: string;
  /** Only this snapshot's line (an id or a unique prefix); the target's totals stay whole. */
  id?: string;
  /** Told of each snapshot that cannot be read (it is left out of the figures), as `list` tells of it. */
  warn?: (message: string) => void;
  unreadable?: () => void;
}

export async function stats(deployment: Deployment, options: StatsOptions = {}): Promise<TargetStats[]> {
  const names = options.target ? [options.target] : Object.keys(deployment.config.targets);
  const { repositoryStats } = await import('../../core/dedup/stats.js');
  const out: TargetStats[] = [];
  for (const name of names) {
    const storage = deployment.storage(name);
    // One listing reads every header once: format 1's, and format 2's for repositoryStats.
    const listed = await deployment.repository(name).listSnapshots(pickDefined({ warn: options.warn, unreadable: options.unreadable }));
    const v1 = listed.filter((s) => s.format !== 2);
    const v2 = await repositoryStats(
      storage,
      listed.filter((s) => s.format === 2),
    );
    const snapshots: SnapshotStatsLine[] = [
      ...v1.map((s) => ({ job: s.job, id: s.id, createdAt: s.createdAt, format: 1 as const, bytes: s.bytes, addedBytes: s.storedBytes })),
      ...v2.snapshots.map((s) => ({ ...s, format: 2 as const })),
    ].sort((a, b) => compareText(a.createdAt, b.createdAt) || compareText(a.id, b.id));
    const storedBytes = v2.storedBytes + v1.reduce((n, s) => n + s.storedBytes, 0);
    const logicalBytes = snapshots.reduce((n, s) => n + s.bytes, 0);
    out.push({ target: name, storedBytes, logicalBytes, ratio: storedBytes > 0 ? logicalBytes / storedBytes : 0, snapshots: select(snapshots, options.id) });
  }
  if (options.id && out.every((t) => t.snapshots.length === 0)) throw new FailsafeError('E_SNAPSHOT_NOT_FOUND', `snapshot "${options.id}" not found`);
  return out;
}

function select(snapshots: SnapshotStatsLine[], id: string | undefined): SnapshotStatsLine[] {
  if (id === undefined) return snapshots;
  const exact = snapshots.filter((s) => s.id === id);
  return exact.length > 0 ? exact : snapshots.filter((s) => s.id.startsWith(id));
}
