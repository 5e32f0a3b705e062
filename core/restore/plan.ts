/**
 * What a restore will do, decided before anything is written: which sources
 * and entries (`--path` globs), where each is staged, which renames put it in
 * place, and, for a dry run or a confirmation, the files it creates, replaces
 * and deletes in the live data.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { pathMatcher } from '../fs/globs.js';
import type { SourcePlugin } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { Manifest, ManifestEntry, ManifestSource } from '../format/manifest.js';
import { decodeName, fsPath } from '../fs/name-bytes.js';
import { nearestExisting } from '../fs/nearest-existing.js';
import { normalizeArchivePath, STAGING_PREFIX } from '../fs/paths.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';
import { exists, type Move } from './swap.js';

/** Plugins by source name; `fallback` restores a source the configuration no longer has (only with `to`). */
export interface RestorePlugins {
  byName: Map<string, SourcePlugin>;
  fallback: (source: ManifestSource) => SourcePlugin;
}

export interface PlanOptions {
  to?: string;
  sources?: string[];
  /** Globs on paths inside a source (`photos/**`, `*.csv`); a matching directory brings its whole subtree. */
  paths?: string[];
}

export interface PlannedSource {
  source: ManifestSource;
  plugin: SourcePlugin;
  staging: string;
  moves: Move[];
  /** Move targets that exist now and will be replaced. */
  replaced: string[];
  /** Entries restored, and the bytes of their files. */
  entries: number;
  bytes: number;
  /** With --path: the archive paths to write (matches and their parent directories); undefined means all. */
  wanted?: Set<string>;
  /** The restore goes where the source lives (not --to): post-swap checks use the live layout. */
  inPlace: boolean;
  /** The plugin's `applyRestore` replaces the live data (no paths to swap). */
  applies?: boolean;
}

/**
 * Whether an in-place restore leaves a live path as it is: the source's options leave it out now, or the
 * snapshot records that its backup excluded it (`meta.exclude`: the YAML then, or `backup --exclude`).
 */
export function leftOut(planned: PlannedSource, path: string): boolean {
  if (planned.plugin.leavesOut?.(path)) return true;
  const recorded = planned.source.meta?.exclude;
  if (!Array.isArray(recorded) || !recorded.every((p): p is string => typeof p === 'string')) return false;
  return pathMatcher(recorded)?.(path) ?? false;
}

/** What a restore changes in the live data, file by file (absolute paths). */
export interface PlannedChanges {
  created: string[];
  /** Live files that differ from the snapshot's (by size or modification time). */
  replaced: string[];
  /** Live files of the same size and modification time as the snapshot's: rewritten with, presumably, the same bytes. */
  unchanged: string[];
  deleted: string[];
  /** Files and bytes of the live data being replaced or deleted. */
  liveFiles: number;
  liveBytes: number;
}

export async function planRestore(snapshot: OpenedSnapshot, plugins: RestorePlugins, options: PlanOptions): Promise<PlannedSource[]> {
  const { manifest } = snapshot;
  const known = manifest.sources.map((s) => s.name);
  for (const name of options.sources ?? []) {
    if (!known.includes(name)) throw new FailsafeError('E_USAGE', `snapshot ${manifest.id} has no source "${name}" (it has: ${known.join(', ')})`);
  }
  const match = options.paths && options.paths.length > 0 ? picomatch(options.paths, { dot: true }) : undefined;
  if (options.to !== undefined) await assertFolderPath(resolve(options.to));
  const plan: PlannedSource[] = [];
  for (const source of manifest.sources.filter((s) => options.sources === undefined || options.sources.includes(s.name))) {
    const entries = manifest.entries.filter((e) => e.source === source.name);
    // Untrusted paths become filesystem paths below (moves, the dry-run plan): refuse hostile ones first.
    for (const e of entries) normalizeArchivePath(e.path);
    const selection = match ? select(entries, match) : undefined;
    if (selection && selection.roots.length === 0) continue;
    const chosen = selection ? entries.filter((e) => selection.matched.has(e.path)) : entries;
    const counts = { entries: selection ? selection.wanted.size : source.entries, bytes: chosen.reduce((sum, e) => sum + e.size, 0) };
    const configured = plugins.byName.get(source.name);
    const common = { source, ...counts, ...(selection ? { wanted: selection.wanted } : {}) };
    if (options.to !== undefined) {
      const root = resolve(options.to);
      const final = sourceFolder(root, source.name, manifest.id);
      const staging = join(root, stagingName(source.name));
      const plugin = configured ?? plugins.fallback(source);
      plan.push({ ...common, plugin, staging, moves: [{ from: staging, to: final }], replaced: (await exists(final)) ? [final] : [], inPlace: false });
      continue;
    }
    if (!configured) {
      throw new FailsafeError('E_USAGE', `source "${source.name}" of snapshot ${manifest.id} is not in the configuration; restore it with --to DIR`);
    }
    const locations = configured.liveLocations();
    const first = locations[0];
    if (!first && configured.applyRestore) {
      // Live data that is not a path (a database server): staged anywhere, then handed to the plugin.
      plan.push({ ...common, plugin: configured, staging: join(tmpdir(), stagingName(source.name)), moves: [], replaced: [], inPlace: true, applies: true });
      continue;
    }
    if (!first) throw new FailsafeError('E_RESTORE', `source "${source.name}" has no location to restore to; restore it with --to DIR`);
    // Staged beside the live data, so the swap is a rename; a partial restore of a mounted folder is staged inside it,
    // as nothing can be renamed from outside a mount into it.
    const inside = selection !== undefined && (await isMountPoint(first.livePath));
    const staging = join(inside ? first.livePath : dirname(first.livePath), stagingName(source.name));
    const moves: Move[] = [];
    for (const loc of locations) {
      const companions = loc.companions ? { companions: loc.companions } : {};
      if (!selection) {
        moves.push({ from: loc.archivePath === '' ? staging : join(staging, loc.archivePath), to: loc.livePath, ...companions });
        continue;
      }
      // Only the matched subtrees move; the rest of the live data stays as it is.
      for (const root of selection.roots) {
        if (loc.archivePath === '') moves.push({ from: join(staging, root), to: join(loc.livePath, root) });
        else if (root === loc.archivePath) moves.push({ from: join(staging, root), to: loc.livePath, ...companions });
        else if (root.startsWith(`${loc.archivePath}/`))
          moves.push({ from: join(staging, root), to: join(loc.livePath, root.slice(loc.archivePath.length + 1)) });
      }
    }
    await assertRenamable(staging, moves);
    const replaced: string[] = [];
    for (const move of moves) if (await exists(move.to)) replaced.push(move.to);
    plan.push({ ...common, plugin: configured, staging, moves, replaced, inPlace: true });
  }
  if (plan.length === 0) throw new FailsafeError('E_USAGE', `nothing in snapshot ${manifest.id} matches --path ${options.paths?.join(' ')}`);
  return plan;
}

/** Entries matched by the globs (or under a matched directory), their parent directories, and the topmost matches. */
function select(entries: ManifestEntry[], match: (path: string) => boolean): { matched: Set<string>; wanted: Set<string>; roots: string[] } {
  const matched = new Set<string>();
  const roots: string[] = [];
  for (const entry of entries) {
    // Entries come parents first, so a matched parent is already known.
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : undefined;
    if (parent !== undefined && matched.has(parent)) matched.add(entry.path);
    else if (match(entry.path)) {
      matched.add(entry.path);
      roots.push(entry.path);
    }
  }
  const wanted = new Set(matched);
  for (const path of matched) {
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) wanted.add(path.slice(0, i));
  }
  return { matched, wanted, roots };
}

/**
 * `<to>/<source name>`, for a name that is one path segment only. The manifest
 * gate refuses any other already; an OpenedSnapshot made some other way (the API) meets this.
 */
function sourceFolder(root: string, name: string, id: string): string {
  const folder = join(root, name);
  if (dirname(folder) !== root || basename(folder) !== name)
    throw new FailsafeError('E_CORRUPT', `snapshot ${id}: source name "${name}" is not one path segment`);
  return folder;
}

function stagingName(source: string): string {
  return `${STAGING_PREFIX}${basename(source)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The swap renames the staged copy into place and the live data aside: both
 * must be on the staging folder's file system, and a mount point cannot be
 * renamed at all. Found here, before anything is read or written, instead of
 * as EBUSY or EXDEV at the swap.
 */
async function assertRenamable(staging: string, moves: Move[]): Promise<void> {
  const stagingDevice = await deviceOf(dirname(staging));
  for (const { to } of moves) {
    const parentDevice = await deviceOf(dirname(to));
    if (await isMountPoint(to, parentDevice)) {
      throw new FailsafeError(
        'E_USAGE',
        `cannot restore ${to} in place: it is a mount point, which a restore cannot swap; restore with --to DIR and copy the files in`,
      );
    }
    if (parentDevice !== stagingDevice) {
      throw new FailsafeError('E_USAGE', `cannot restore ${to} in place: it is on another file system than ${dirname(staging)}; restore with --to DIR`);
    }
  }
}

/** A folder on another device than its parent's (`parentDevice`, when already known). */
async function isMountPoint(path: string, parentDevice?: number): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  return info !== undefined && info.isDirectory() && info.dev !== (parentDevice ?? (await deviceOf(dirname(path))));
}

/** The device of `path`, or of its nearest existing parent. */
async function deviceOf(path: string): Promise<number | undefined> {
  return (await nearestExisting(path).catch(() => undefined))?.stats.dev;
}

/** `--to` must be a folder, or a path a folder can be made at: not a file, nor under one (links are followed, as the restore will). */
async function assertFolderPath(to: string): Promise<void> {
  const found = await nearestExisting(to);
  if (found && !found.stats.isDirectory()) {
    throw new FailsafeError('E_USAGE', found.path === to ? `--to ${to} is not a folder` : `--to ${to}: ${found.path} is not a folder`);
  }
}

/** The manifest entries a planned source restores: its selected files and the folders leading to them. */
export function plannedEntries(manifest: Manifest, planned: PlannedSource): ManifestEntry[] {
  return manifest.entries.filter((e) => e.source === planned.source.name && (!planned.wanted || planned.wanted.has(e.path)));
}

/** The live files each move creates, replaces or deletes, found by walking the live data. */
export async function plannedChanges(snapshot: OpenedSnapshot, planned: PlannedSource): Promise<PlannedChanges> {
  const changes: PlannedChanges = { created: [], replaced: [], unchanged: [], deleted: [], liveFiles: 0, liveBytes: 0 };
  const entries = plannedEntries(snapshot.manifest, planned);
  for (const move of planned.moves) {
    // The archive paths that land under this move's target, relative to it.
    const prefix = relativeArchivePath(planned, move);
    const incoming = new Map<string, ManifestEntry>();
    for (const e of entries) {
      if (prefix === '') incoming.set(e.path, e);
      else if (e.path === prefix) incoming.set('', e);
      else if (e.path.startsWith(`${prefix}/`)) incoming.set(e.path.slice(prefix.length + 1), e);
    }
    const live = await lstat(fsPath(move.to)).catch(() => undefined);
    if (!live) {
      for (const rel of incoming.keys()) if (incoming.get(rel)!.type !== 'directory') changes.created.push(rel === '' ? move.to : join(move.to, rel));
      continue;
    }
    if (!live.isDirectory()) {
      changes.replaced.push(move.to);
      if (live.isFile()) count(changes, live.size);
      continue;
    }
    const seen = new Set<string>();
    await walk(move.to, '', async (rel, info) => {
      seen.add(rel);
      if (leftOut(planned, archivePathOf(prefix, rel))) return false; // left as it is (core/restore/left-out.ts)
      const isDir = info.isDirectory();
      if (!isDir) count(changes, info.size);
      if (!incoming.has(rel)) {
        changes.deleted.push(join(move.to, rel));
        return false;
      }
      if (!isDir) ((await sameEntry(join(move.to, rel), info, incoming.get(rel)!)) ? changes.unchanged : changes.replaced).push(join(move.to, rel));
      return isDir;
    });
    for (const [rel, e] of incoming) if (rel !== '' && !seen.has(rel) && e.type !== 'directory') changes.created.push(join(move.to, rel));
  }
  return changes;
}

/** A file of the same size and modification time (to the second: what a files cache calls unchanged), or a link to the same target. */
async function sameEntry(path: string, live: Stats, entry: ManifestEntry): Promise<boolean> {
  if (live.isSymbolicLink())
    return entry.type === 'symlink' && (await readlink(fsPath(path), { encoding: 'buffer' }).then(decodeName, () => undefined)) === entry.linkTarget;
  return live.isFile() && entry.type === 'file' && live.size === entry.size && Math.floor(live.mtimeMs / 1000) === Math.floor(Date.parse(entry.mtime) / 1000);
}

function count(changes: PlannedChanges, size: number): void {
  changes.liveFiles++;
  changes.liveBytes += size;
}

/** The archive path of `rel`, a path under a move's target whose `from` stands for archive path `prefix`. */
export function archivePathOf(prefix: string, rel: string): string {
  return prefix === '' ? rel : `${prefix}/${rel}`;
}

/** The archive path a move's `from` stands for: '' for a whole staged source, else the path under staging. */
export function relativeArchivePath(planned: PlannedSource, move: Move): string {
  if (move.from === planned.staging) return '';
  return move.from
    .slice(planned.staging.length + 1)
    .split(sep)
    .join('/');
}

/** Depth first, names read as bytes (core/fs/name-bytes.ts); `visit` returns true to descend into a directory. */
export async function walk(root: string, rel: string, visit: (rel: string, info: Stats) => Promise<boolean>): Promise<void> {
  const raw = await readdir(fsPath(rel === '' ? root : join(root, rel)), { encoding: 'buffer' }).catch(() => [] as Buffer[]);
  for (const name of raw.map(decodeName).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`;
    const info = await lstat(fsPath(join(root, child))).catch(() => undefined);
    if (info && (await visit(child, info))) await walk(root, child, visit);
  }
}
