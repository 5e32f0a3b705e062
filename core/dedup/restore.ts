/**
 * Restoring a v2 snapshot straight into place, at the library level: each
 * source's entries (core/dedup/open.ts) handed to its plugin's `restore`.
 * The CLI and API restore through the staged, journaled engine instead
 * (core/restore/run-restore.ts), which reads the same entries.
 */
import type { SourcePlugin } from '../contracts.js';
import type { KeyRing } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { openSnapshotV2 } from './open.js';
import { snapshotKeyV2 } from './snapshot.js';

export interface DedupRestoreInput {
  storage: Storage;
  keyRing: KeyRing;
  job: string;
  id: string;
  /** The plugin that restores each source, and where it lands. */
  plugins: Map<string, SourcePlugin>;
  destination(source: string): string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export async function restoreDeduplicated(input: DedupRestoreInput): Promise<{ entries: number }> {
  const snapshot = await openSnapshotV2(input.storage, input.job, input.id, input.keyRing);
  const what = `${input.storage.targetName}:${snapshotKeyV2(input.job, input.id)}`;
  let restored = 0;
  for (const source of snapshot.manifest.sources) {
    const plugin = input.plugins.get(source.name);
    if (!plugin) throw new FailsafeError('E_USAGE', `${what}: no plugin to restore source "${source.name}"`);
    restored += snapshot.manifest.entries.filter((e) => e.source === source.name).length;
    await plugin.restore(snapshot.chunked!.entries(new Set([source.name]), input.signal), input.destination(source.name), {
      warn: input.warn ?? ((): void => undefined),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  }
  return { entries: restored };
}
