import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { runBackup, type BackupSettings } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { SourcePlugin } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import { isFailsafeError } from '../../core/errors.js';
import { openSnapshot } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { keys, syntheticSource } from '../helpers/sources.js';

async function settings(): Promise<BackupSettings> {
  return {
    stages: builtinStages('gzip', 1),
    encryption: await createEncryption({ mode: 'keys', passphrase: 'pw' }),
    segmentSize: 1024 * 1024,
    parallelism: 2,
  };
}

describe('runBackup', () => {
  it('records every entry with its segment and offset, and the manifest authenticates', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const s = await settings();
    const {
      snapshots: [summary],
    } = await runBackup({ name: 'job', sources: [syntheticSource(20, 300_000)], targets: [storage] }, s);
    const opened = await openSnapshot(storage, 'job', summary!.id, s.encryption);
    expect(opened.manifest.entries).toHaveLength(20);
    expect(opened.manifest.segments.length).toBeGreaterThanOrEqual(5);
    // Offsets are exact: entry k's header sits at k * (512 + 300_000 rounded up to 512).
    const stride = 512 + Math.ceil(300_000 / 512) * 512;
    opened.manifest.entries.forEach((e, k) => {
      expect(e.segment * s.segmentSize + e.offset).toBe(k * stride);
    });
  });

  it('a source failing mid-way leaves no object behind', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    await expect(runBackup({ name: 'job', sources: [syntheticSource(30, 200_000, 25)], targets: [storage] }, await settings())).rejects.toThrow(
      /disk vanished/,
    );
    expect(await keys(storage)).toEqual([]);
  });

  it('an abort mid-way rejects with E_ABORTED and leaves no object behind', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const controller = new AbortController();
    const run = runBackup({ name: 'job', sources: [syntheticSource(200, 100_000)], targets: [storage] }, await settings(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.segments >= 2) controller.abort();
      },
    });
    await expect(run).rejects.toSatisfy((err) => isFailsafeError(err, 'E_ABORTED'));
    expect(await keys(storage)).toEqual([]);
  });

  it('calls cleanup on every prepared source even when the backup fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-engine-'));
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'd', 'a'), 'a');
    let cleaned = 0;
    const failing: SourcePlugin = { ...syntheticSource(3, 10, 1), prepare: async () => undefined, cleanup: async () => void cleaned++ };
    const good = new DirectorySource({ path: join(dir, 'd') }, 'd');
    const storage = new Storage(new MemoryAdapter(), 'mem');
    await expect(runBackup({ name: 'job', sources: [good, failing], targets: [storage] }, await settings())).rejects.toThrow();
    expect(cleaned).toBe(1);
  });
});
