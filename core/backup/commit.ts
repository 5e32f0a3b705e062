/**
 * The end of a backup: the manifest, written last to every target still in
 * the run. Its presence is what makes the snapshot exist; a target that
 * fails here drops out and is emptied while the others complete.
 */
import { DEFAULT_CHECKSUM } from '../codec/stages.js';
import { asFailsafeError } from '../errors.js';
import { encodeManifest, type Manifest, type SnapshotStats } from '../format/manifest.js';
import { manifestKey } from '../repository/layout.js';
import { Repository } from '../repository/repository.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { TOOL } from '../version.js';
import type { StoredData } from './segment-flow.js';
import type { BackupState } from './state.js';
import type { BackupJobResult } from './types.js';

function manifestOf(state: BackupState, { entries, sources }: StoredData): Manifest {
  const { stages, segmentSize } = state.settings;
  const records = [...state.records].sort((a, b) => a.index - b.index);
  return {
    format: 1,
    id: state.id,
    job: state.job.name,
    createdAt: state.createdAt,
    tool: TOOL,
    compression: { algorithm: stages.compression.algorithm, level: stages.compression.level },
    ...(stages.checksum.name === DEFAULT_CHECKSUM.name ? {} : { checksum: stages.checksum.name }),
    cipher: state.ciphers.segments.name,
    segmentSize,
    tarBytes: records.reduce((sum, r) => sum + r.plainSize, 0),
    sources,
    segments: records,
    entries,
  };
}

function statsOf(state: BackupState, manifest: Manifest): SnapshotStats {
  return {
    files: manifest.entries.filter((e) => e.type === 'file').length,
    bytes: manifest.sources.reduce((sum, s) => sum + s.bytes, 0),
    storedBytes: state.progress.storedBytes,
    segments: manifest.segments.length,
  };
}

export async function commitSnapshot(state: BackupState, data: StoredData): Promise<BackupJobResult> {
  const { job, options } = state;
  const { journal } = options;
  const manifest = manifestOf(state, data);
  const stats = statsOf(state, manifest);
  const tags = options.tags && options.tags.length > 0 ? { tags: options.tags } : {};
  // Counted in the public header, so that `status` (no key) can turn the job's health to warning.
  const warned = manifest.sources.reduce((sum, s) => sum + (s.warnings?.length ?? 0), 0);
  // How long this run took, to the manifest: the dashboard charts it; no key needed.
  const durationMs = Math.max(0, Date.now() - state.startedMs);
  const encoded = await encodeManifest(manifest, stats, state.ciphers.sealing, { ...tags, ...(warned > 0 ? { warnings: warned } : {}), durationMs });
  // Objects of the interrupted run past the new end would be orphans of this snapshot.
  for (const key of journal?.leftovers(manifest.segments.length) ?? []) await Promise.allSettled(job.targets.map((t) => t.delete(key)));
  await journal?.flush();
  crashPoint('manifest');
  const stored = await writeManifest(state, data.liveTargets, encoded);
  crashPoint('manifest-written');
  await removePartial(job.name, state.id, [...state.failed.keys()]);
  await journal?.completed();
  const snapshots = stored.map((target) => ({
    id: state.id,
    job: job.name,
    target: target.targetName,
    createdAt: state.createdAt,
    bytes: stats.bytes,
    files: stats.files,
    storedBytes: stats.storedBytes,
    ...tags,
    ...(state.warnings.length > 0 ? { warnings: state.warnings } : {}),
    ...(journal?.resumed ? { resumed: state.counters } : {}),
  }));
  const failedTargets = [...state.failed].map(([target, error]) => ({ target: target.targetName, error: asFailsafeError(error) }));
  return { snapshots, failedTargets };
}

/** The manifest goes last: its presence is what makes the snapshot exist. Resolves with the targets that hold it. */
async function writeManifest(state: BackupState, live: Storage[], encoded: Buffer): Promise<Storage[]> {
  const { signal } = state.options;
  const written = await Promise.allSettled(live.map((target) => target.put(manifestKey(state.job.name, state.id), encoded, { signal })));
  signal?.throwIfAborted();
  written.forEach((result, i) => {
    if (result.status === 'rejected') state.failed.set(live[i]!, result.reason as Error);
  });
  const stored = live.filter((target) => !state.failed.has(target));
  if (stored.length === 0) throw state.failed.values().next().value!;
  return stored;
}

/** Best effort: a failed backup leaves nothing behind, not even a manifest that a dropped target took after all. */
export async function removePartial(job: string, id: string, targets: Storage[]): Promise<void> {
  await Promise.all(
    targets.map(async (target) => {
      try {
        await new Repository(target).deleteSnapshot(job, id);
      } catch {
        // an unreachable target keeps its orphans; prune removes them later
      }
    }),
  );
}
