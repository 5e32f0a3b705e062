/** Sources made up on the spot and store listings, for engine tests. */
import { Readable } from 'node:stream';
import { vi } from 'vitest';
import { runBackup } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import type { Storage } from '../../core/repository/storage.js';

export interface SyntheticOptions {
  /** The byte file `i` is filled with (default `i`). */
  content?: (i: number) => number;
  /** A fixed date for every file, so a rerun yields the same tar stream (default: now). */
  mtime?: Date;
}

/** A source that streams `count` files of `size` bytes, failing at file `failAt` if given. */
export function syntheticSource(count: number, size: number, failAt?: number, options: SyntheticOptions = {}): SourcePlugin {
  const content = options.content ?? ((i: number) => i);
  return {
    type: 'synthetic',
    name: 'synthetic',
    liveLocations: () => [],
    restore: async () => 0,
    async *entries(): AsyncIterable<SourceEntry> {
      for (let i = 0; i < count; i++) {
        if (i === failAt) throw Object.assign(new Error('disk vanished'), { code: 'EIO' });
        yield {
          path: `f${i}`,
          type: 'file',
          size,
          mode: 0o644,
          mtime: options.mtime ?? new Date(),
          open: () => Readable.from([Buffer.alloc(size, content(i))]),
        };
      }
    },
  };
}

/** Every key in a store, sorted. */
export async function keys(storage: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list('')) out.push(o.key);
  return out;
}

/**
 * One small snapshot of `job` per date on every storage, made at that date
 * through the fake clock (`vi.useFakeTimers({ toFake: ['Date'] })` first);
 * resolves with their ids in the same order.
 */
export async function snapshotsAt(storages: Storage[], dates: string[], job = 'app', tags?: string[]): Promise<string[]> {
  const settings = {
    stages: builtinStages('none', 0),
    encryption: await createEncryption({ mode: 'none' }),
    segmentSize: 1024 * 1024,
    parallelism: 1,
  };
  const ids: string[] = [];
  for (const date of dates) {
    vi.setSystemTime(new Date(date));
    const result = await runBackup({ name: job, sources: [syntheticSource(2, 1000)], targets: storages }, settings, tags ? { tags } : {});
    ids.push(result.snapshots[0]!.id);
  }
  return ids;
}
