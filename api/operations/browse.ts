/**
 * Browsing snapshots from their manifests (format 1) or trees (format 2),
 * without restoring anything: `ls`, `find` and `diff`. Each opens the
 * snapshot with the deployment's key, which authenticates what it lists.
 */
import picomatch from 'picomatch';
import type { ManifestEntry, ManifestSource } from '../../core/format/manifest.js';
import type { SnapshotInfo } from '../../core/repository/snapshots.js';
import { FailsafeError } from '../../core/errors.js';
import type { Deployment } from '../container.js';
import type { SelectOptions } from '../options.js';
import { findSnapshot, selectRepositories } from './select.js';

/** An entry as browsing shows it: `path` is inside `source`. */
export type BrowsedEntry = Omit<ManifestEntry, 'segment' | 'offset'>;

export interface Listing {
  snapshot: SnapshotInfo;
  entries: BrowsedEntry[];
}

export interface FoundEntry extends BrowsedEntry {
  id: string;
  job: string;
  target: string;
  createdAt: string;
}

export interface ChangedEntry {
  source: string;
  path: string;
  before: BrowsedEntry;
  after: BrowsedEntry;
}

export interface SnapshotDiff {
  from: SnapshotInfo;
  to: SnapshotInfo;
  added: BrowsedEntry[];
  removed: BrowsedEntry[];
  changed: ChangedEntry[];
}

async function entriesOf(deployment: Deployment, ref: string, options: SelectOptions): Promise<Listing> {
  const { repository, info } = await findSnapshot(deployment, ref, options);
  const stages = deployment.config.jobs[info.job] ? deployment.catalog(info.job) : undefined;
  const snapshot = await repository.openSnapshot(info.job, info.id, await deployment.encryption('open'), stages);
  return { snapshot: info, entries: snapshot.manifest.entries.map(({ segment: _s, offset: _o, ...entry }) => entry) };
}

export interface SourcesListing {
  snapshot: SnapshotInfo;
  sources: ManifestSource[];
}

/**
 * A snapshot's sources (the top level of its tree), read before the rest of
 * its manifest is decoded: a page shows them while the rest is. Undefined
 * when they cannot be read alone (a format-2 snapshot): `ls` answers.
 */
export async function sources(deployment: Deployment, ref: string, options: SelectOptions = {}): Promise<SourcesListing | undefined> {
  const { repository, info } = await findSnapshot(deployment, ref, options);
  const found = await repository.openSources(info.job, info.id, await deployment.encryption('open'));
  return found && { snapshot: info, sources: found };
}

/** The entries under `path` (`<source>` or `<source>/<folder>`; everything when empty). */
export async function ls(deployment: Deployment, ref: string, path: string | undefined, options: SelectOptions = {}): Promise<Listing> {
  const listing = await entriesOf(deployment, ref, options);
  const prefix = (path ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix === '') return listing;
  const entries = listing.entries.filter((e) => isUnder(e, prefix));
  if (entries.length === 0) throw new FailsafeError('E_USAGE', `nothing at "${prefix}" in snapshot ${listing.snapshot.id} (paths start with a source name)`);
  return { ...listing, entries };
}

/** Whether the entry is the source, folder or file `prefix` names (`<source>[/<path>]`), or inside it. */
export function isUnder(e: { source: string; path: string }, prefix: string): boolean {
  const full = `${e.source}/${e.path}`;
  return e.source === prefix || full === prefix || full.startsWith(`${prefix}/`);
}

/** Entries whose `<source>/<path>`, or name alone, matches the glob, in every snapshot of the selected targets, newest first. */
export async function find(deployment: Deployment, pattern: string, options: SelectOptions = {}): Promise<FoundEntry[]> {
  const matches = picomatch(pattern, { dot: true, basename: !pattern.includes('/') });
  const found: FoundEntry[] = [];
  for (const repository of selectRepositories(deployment, options)) {
    for (const info of await repository.listSnapshots(options.job ? { job: options.job } : {})) {
      const { entries } = await entriesOf(deployment, info.id, { target: repository.targetName, job: info.job });
      for (const entry of entries) {
        if (matches(`${entry.source}/${entry.path}`)) found.push({ id: info.id, job: info.job, target: info.target, createdAt: info.createdAt, ...entry });
      }
    }
  }
  return found;
}

/** What changed from `from` to `to`: content by SHA-256 where both snapshots recorded it, else by size and time. */
export async function diff(deployment: Deployment, from: string, to: string, options: SelectOptions = {}): Promise<SnapshotDiff> {
  const [a, b] = [await entriesOf(deployment, from, options), await entriesOf(deployment, to, options)];
  const key = (e: BrowsedEntry): string => `${e.source}\0${e.path}`;
  const before = new Map(a.entries.map((e) => [key(e), e]));
  const after = new Map(b.entries.map((e) => [key(e), e]));
  const result: SnapshotDiff = { from: a.snapshot, to: b.snapshot, added: [], removed: [], changed: [] };
  for (const [k, entry] of after) {
    const old = before.get(k);
    if (!old) result.added.push(entry);
    else if (differs(old, entry)) result.changed.push({ source: entry.source, path: entry.path, before: old, after: entry });
  }
  for (const [k, entry] of before) if (!after.has(k)) result.removed.push(entry);
  return result;
}

function differs(a: BrowsedEntry, b: BrowsedEntry): boolean {
  if (a.type !== b.type || a.size !== b.size || a.mode !== b.mode || a.linkTarget !== b.linkTarget) return true;
  if (a.type !== 'file') return false;
  return a.sha256 !== undefined && b.sha256 !== undefined ? a.sha256 !== b.sha256 : a.mtime !== b.mtime;
}
