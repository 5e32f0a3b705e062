/**
 * Where a snapshot's objects live in a target: the private helper of
 * ./repository.ts, which callers go through. Manifests sit apart from the
 * data so that listing snapshots never walks the (many) segment objects.
 *
 *   manifests/<job>/<snapshot id>          written last; its presence makes the snapshot exist
 *   data/<job>/<snapshot id>/<index:8>     segment objects
 *   data/<job>/<snapshot id>/forgotten     written by prune before the manifest goes, removed last
 */
import { randomBytes } from 'node:crypto';

export const FORMAT_VERSION = 1;
export const MANIFESTS_PREFIX = 'manifests/';
export const DATA_PREFIX = 'data/';

export function manifestKey(job: string, id: string): string {
  return `${MANIFESTS_PREFIX}${job}/${id}`;
}

export function segmentKey(job: string, id: string, index: number): string {
  return `${snapshotDataPrefix(job, id)}${String(index).padStart(8, '0')}`;
}

/**
 * Prune's mark on a snapshot it removes, put before the manifest is deleted:
 * data beside it is a removal to finish, never a backup in progress, so the
 * next prune clears it at once rather than after the orphans' grace period.
 * Sorts after every segment, so a removal deletes it last.
 */
export function forgottenKey(job: string, id: string): string {
  return `${snapshotDataPrefix(job, id)}forgotten`;
}

export function snapshotDataPrefix(job: string, id: string): string {
  return `${DATA_PREFIX}${job}/${id}/`;
}

/** `20261122T134500Z-1a2b3c`: sorts by time, unique across hosts writing the same job. */
export function newSnapshotId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * How far ahead of this host's clock a snapshot may be dated and still count
 * as the newest: room for clocks that drift, not for a snapshot forged in the
 * future, which would otherwise stay `latest` past every real backup.
 */
export const FUTURE_TOLERANCE_MS = 10 * 60 * 1000;

/** Dated past this host's clock and its tolerance: never `latest`, never counted by retention. */
export function isFuture(snapshot: { createdAt: string }, now: Date): boolean {
  return Date.parse(snapshot.createdAt) > now.getTime() + FUTURE_TOLERANCE_MS;
}

/** Parses `manifests/<job>/<id>` back into its parts; undefined for anything else. */
export function parseManifestKey(key: string): { job: string; id: string } | undefined {
  const match = /^manifests\/([^/]+)\/([^/]+)$/.exec(key);
  return match ? { job: match[1]!, id: match[2]! } : undefined;
}

/** Authenticated context of a segment: binds it to its snapshot and position. */
export function segmentContext(id: string, index: number): string {
  return `failsafe/v1/${id}/${index}`;
}
