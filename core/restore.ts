/**
 * Restoring a snapshot, source by source: stream and verify into a staging
 * directory beside the destination, run the plugin's check on the staged
 * copy, then swap it into place (core/swap.ts). A failure at any point before
 * the swap leaves the live data untouched; the staging directory is removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { RestoreEntry, SourcePlugin } from './contracts.js';
import { FailsafeError, isAbortError } from './errors.js';
import type { ManifestSource } from './format/manifest.js';
import { archiveEntries, type ArchiveEntry } from './read/archive.js';
import { segmentStream } from './read/segments.js';
import type { OpenedSnapshot } from './snapshots.js';
import { exists, restoreStamp, swapIntoPlace, type Move } from './swap.js';

export interface RestoreRunOptions {
  /** Restore each source into `<to>/<source name>/` instead of where it came from. */
  to?: string;
  /** Only these sources (by name). */
  sources?: string[];
  dryRun?: boolean;
  /** Keep replaced data as `<path>.pre-restore-<stamp>` (default true). */
  keepPrevious?: boolean;
  parallelism?: number;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface RestoredSource {
  name: string;
  type: string;
  /** Final paths written. */
  destinations: string[];
  entries: number;
  bytes: number;
  /** Paths that existed and were (or, in a dry run, would be) replaced. */
  replaced: string[];
  /** Where the replaced data was kept. */
  previous: string[];
}

export interface RestoreResult {
  id: string;
  job: string;
  target: string;
  dryRun: boolean;
  sources: RestoredSource[];
}

/** Plugins by source name; `fallback` restores a source the configuration no longer has (only with `to`). */
export interface RestorePlugins {
  byName: Map<string, SourcePlugin>;
  fallback: (source: ManifestSource) => SourcePlugin;
}

interface PlannedSource {
  source: ManifestSource;
  plugin: SourcePlugin;
  staging: string;
  moves: Move[];
  replaced: string[];
}

export async function runRestore(snapshot: OpenedSnapshot, plugins: RestorePlugins, options: RestoreRunOptions = {}): Promise<RestoreResult> {
  const { manifest } = snapshot;
  const plan = await planRestore(snapshot, plugins, options);
  const result: RestoreResult = {
    id: manifest.id,
    job: manifest.job,
    target: snapshot.storage.targetName,
    dryRun: options.dryRun === true,
    sources: plan.map((p) => ({
      name: p.source.name,
      type: p.source.type,
      destinations: p.moves.map((m) => m.to),
      entries: p.source.entries,
      bytes: p.source.bytes,
      replaced: p.replaced,
      previous: [],
    })),
  };
  if (options.dryRun) return result;

  const warn = options.warn ?? (() => undefined);
  try {
    await stageAll(snapshot, plan, options, warn);
    for (const planned of plan) {
      await planned.plugin.check?.(planned.staging);
    }
    for (const planned of plan) {
      await planned.plugin.beforeSwap?.(planned.moves.map((m) => m.to));
    }
    const stamp = restoreStamp();
    const swapped: { planned: PlannedSource; previous: string[] }[] = [];
    for (const planned of plan) {
      if (planned.moves.length === 0 && planned.plugin.applyRestore) {
        await planned.plugin.applyRestore(planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
        continue;
      }
      const { previous } = await swapIntoPlace(planned.moves, stamp, { keepPrevious: options.keepPrevious ?? true });
      swapped.push({ planned, previous });
    }
    for (const { planned, previous } of swapped) {
      result.sources.find((s) => s.name === planned.source.name)!.previous = previous;
    }
    return result;
  } catch (err) {
    if (isAbortError(err) && !(err instanceof FailsafeError)) throw new FailsafeError('E_ABORTED', 'restore was cancelled', { cause: err });
    throw err;
  } finally {
    for (const planned of plan) await rm(planned.staging, { recursive: true, force: true });
  }
}

async function planRestore(snapshot: OpenedSnapshot, plugins: RestorePlugins, options: RestoreRunOptions): Promise<PlannedSource[]> {
  const { manifest } = snapshot;
  const known = manifest.sources.map((s) => s.name);
  for (const name of options.sources ?? []) {
    if (!known.includes(name)) throw new FailsafeError('E_USAGE', `snapshot ${manifest.id} has no source "${name}" (it has: ${known.join(', ')})`);
  }
  const selected = manifest.sources.filter((s) => options.sources === undefined || options.sources.includes(s.name));
  const plan: PlannedSource[] = [];
  for (const source of selected) {
    const configured = plugins.byName.get(source.name);
    if (options.to !== undefined) {
      const root = resolve(options.to);
      const final = join(root, source.name);
      const staging = join(root, stagingName(source.name));
      plan.push({
        source,
        plugin: configured ?? plugins.fallback(source),
        staging,
        moves: [{ from: staging, to: final }],
        replaced: (await exists(final)) ? [final] : [],
      });
      continue;
    }
    if (!configured) {
      throw new FailsafeError('E_USAGE', `source "${source.name}" of snapshot ${manifest.id} is not in the configuration; restore it with --to DIR`);
    }
    const locations = configured.liveLocations();
    const first = locations[0];
    if (!first && configured.applyRestore) {
      plan.push({ source, plugin: configured, staging: join(tmpdir(), stagingName(source.name)), moves: [], replaced: [] });
      continue;
    }
    if (!first) throw new FailsafeError('E_RESTORE', `source "${source.name}" has no location to restore to; restore it with --to DIR`);
    const staging = join(dirname(first.livePath), stagingName(source.name));
    const moves = locations.map((loc) => ({
      from: loc.archivePath === '' ? staging : join(staging, loc.archivePath),
      to: loc.livePath,
      ...(loc.companions ? { companions: loc.companions } : {}),
    }));
    const replaced: string[] = [];
    for (const move of moves) if (await exists(move.to)) replaced.push(move.to);
    plan.push({ source, plugin: configured, staging, moves, replaced });
  }
  return plan;
}

function stagingName(source: string): string {
  return `.failsafe-staging-${basename(source)}-${randomBytes(4).toString('hex')}`;
}

/** Streams the selected sources' entries out of the archive into their staging directories. */
async function stageAll(snapshot: OpenedSnapshot, plan: PlannedSource[], options: RestoreRunOptions, warn: (m: string) => void): Promise<void> {
  const { manifest } = snapshot;
  const wanted = new Set(plan.map((p) => p.source.name));
  const first = manifest.entries.find((e) => wanted.has(e.source));
  const what = `${snapshot.storage.targetName}:${manifest.job}/${manifest.id}`;
  const iterator = first
    ? archiveEntries(
        segmentStream(snapshot, { from: first.segment, skip: first.offset, ahead: options.parallelism ?? 2, signal: options.signal }),
        manifest.entries,
        what,
      )
    : undefined;
  let pending: ArchiveEntry | undefined;
  const advance = async (): Promise<void> => {
    const next = iterator ? await iterator.next() : { done: true as const, value: undefined };
    pending = next.done ? undefined : next.value;
  };
  try {
    await advance();
    for (const planned of plan) {
      const name = planned.source.name;
      // Skip entries of sources not being restored that sit between selected ones.
      while (pending && pending.source !== name && !wanted.has(pending.source)) await advance();
      let count = 0;
      async function* entriesOfSource(): AsyncGenerator<RestoreEntry> {
        while (pending && pending.source === name) {
          count++;
          yield pending;
          await advance();
        }
      }
      await mkdir(planned.staging, { recursive: true });
      await planned.plugin.restore(entriesOfSource(), planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
      while (pending && pending.source === name) {
        count++;
        await advance();
      }
      if (count !== planned.source.entries) {
        throw new FailsafeError('E_CORRUPT', `${what}: source "${name}" has ${count} entries in the archive, the manifest lists ${planned.source.entries}`);
      }
    }
  } finally {
    await iterator?.return(undefined);
  }
}
