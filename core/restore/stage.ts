/**
 * Staging a restore: the selected sources' entries streamed out of the
 * archive, checked on the way, each source written by its plugin into a
 * staging folder beside its destination, and the folders made for it
 * remembered so that a failed restore can take them away again.
 */
import { mkdir, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RestoreEntry } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { makeFolder } from '../fs/make-folder.js';
import { archiveEntries, checksEveryFile, type ArchiveEntry } from '../read/archive.js';
import { FileHasher } from '../read/file-hasher.js';
import { segmentStream } from '../read/segments.js';
import type { OpenedSnapshot } from '../repository/snapshots.js';
import type { PlannedSource } from './plan.js';

export interface StageOptions {
  parallelism?: number;
  signal?: AbortSignal;
  /** Told of each entry once its plugin has taken it (asked for the next, or finished the source). */
  onStaged?: (entry: ArchiveEntry) => void;
}

/** Folders a restore made: `top` (the first that did not exist) down to `bottom`. */
export interface MadeFolders {
  top: string;
  bottom: string;
}

/** Removes `bottom` and its parents up to `top` while they are empty; a folder something else wrote into stays. */
export async function removeEmptyFolders({ top, bottom }: MadeFolders): Promise<void> {
  for (let at = bottom; ; at = dirname(at)) {
    if (
      !(await rmdir(at).then(
        () => true,
        () => false,
      ))
    )
      return;
    if (at === top || dirname(at) === at) return;
  }
}

/** Streams the selected sources' entries out of the archive into their staging directories. */
export async function stageAll(
  snapshot: OpenedSnapshot,
  plan: PlannedSource[],
  options: StageOptions,
  warn: (m: string) => void,
  made: MadeFolders[],
): Promise<void> {
  const wanted = new Set(plan.map((p) => p.source.name));
  const iterator = entriesOf(snapshot, wanted, options);
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
          // Entries outside --path still stream past (and are checked), unwritten.
          if (!planned.wanted || planned.wanted.has(pending.path)) {
            const entry = pending;
            yield entry;
            options.onStaged?.(entry);
          }
          await advance();
        }
      }
      const top = await makeFolder(dirname(planned.staging));
      if (top !== undefined) made.push({ top, bottom: dirname(planned.staging) });
      await mkdir(planned.staging);
      await planned.plugin.restore(entriesOfSource(), planned.staging, { ...(options.signal ? { signal: options.signal } : {}), warn });
      while (pending && pending.source === name) {
        count++;
        await advance();
      }
      if (count !== planned.source.entries) {
        const what = `${snapshot.storage.targetName}:${snapshot.manifest.job}/${snapshot.manifest.id}`;
        throw new FailsafeError('E_CORRUPT', `${what}: source "${name}" has ${count} entries in the archive, the manifest lists ${planned.source.entries}`);
      }
    }
  } finally {
    await iterator?.return(undefined);
  }
}

/** The entries of the wanted sources: from the segments, from the first one that holds any (format 1), or from the packs (format 2). */
function entriesOf(snapshot: OpenedSnapshot, wanted: Set<string>, options: StageOptions): AsyncGenerator<ArchiveEntry> | undefined {
  if (snapshot.chunked) {
    // Each chunk is checked against its keyed id: the hashing thread started ahead for format 1 would only hold memory.
    void FileHasher.dropAhead();
    return snapshot.chunked.entries(wanted, options.signal);
  }
  const { manifest } = snapshot;
  const first = manifest.entries.find((e) => wanted.has(e.source));
  if (!first) return undefined;
  const stream = segmentStream(snapshot, {
    from: first.segment,
    skip: first.offset,
    ahead: options.parallelism ?? 2,
    contentChecked: checksEveryFile(manifest.entries),
    signal: options.signal,
  });
  return archiveEntries(stream, manifest.entries, `${snapshot.storage.targetName}:${manifest.job}/${manifest.id}`, { hashThread: true });
}
