/**
 * One snapshot, several targets: a target that fails is dropped with its
 * partial objects removed, and the others complete.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { runBackup, type BackupSettings } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { StorageOptions } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import { isFailsafeError } from '../../core/errors.js';
import { listSnapshots, openSnapshot } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { keys, syntheticSource } from '../helpers/sources.js';

async function settings(): Promise<BackupSettings> {
  return {
    stages: builtinStages('none', 0),
    encryption: await createEncryption({ mode: 'none' }),
    segmentSize: 1024 * 1024,
    parallelism: 2,
  };
}

/** A memory store whose puts start failing once `shouldFail(key, count)` says so, each after `failAfterMs` (as a disk fills). */
class FailingAdapter extends MemoryAdapter {
  puts = 0;
  constructor(
    readonly shouldFail: (key: string, puts: number) => boolean,
    readonly failAfterMs = 0,
  ) {
    super();
  }
  override async put(key: string, body: Buffer, options?: StorageOptions): Promise<{ size: number }> {
    if (this.shouldFail(key, ++this.puts)) {
      if (this.failAfterMs > 0) await sleep(this.failAfterMs);
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    }
    return super.put(key, body, options);
  }
}

describe('several targets', () => {
  it('stores the same snapshot on every target', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    const s = await settings();
    const result = await runBackup({ name: 'job', sources: [syntheticSource(12, 300_000)], targets: [a, b] }, s);
    expect(result.failedTargets).toEqual([]);
    expect(result.snapshots.map((x) => x.target)).toEqual(['a', 'b']);
    expect(new Set(result.snapshots.map((x) => x.id)).size).toBe(1);
    expect(await keys(a)).toEqual(await keys(b));
    const one = await openSnapshot(b, 'job', result.snapshots[0]!.id, s.encryption);
    expect(one.manifest.entries).toHaveLength(12);
  });

  it('a target failing mid-run is dropped and emptied; the other completes', async () => {
    const good = new Storage(new MemoryAdapter(), 'good');
    const dying = new Storage(new FailingAdapter((_key, puts) => puts > 2), 'usb');
    const s = await settings();
    const result = await runBackup({ name: 'job', sources: [syntheticSource(20, 300_000)], targets: [dying, good] }, s);
    expect(result.snapshots.map((x) => x.target)).toEqual(['good']);
    expect(result.failedTargets).toHaveLength(1);
    expect(result.failedTargets[0]!.target).toBe('usb');
    expect(result.failedTargets[0]!.error.code).toBe('E_STORAGE');
    expect(result.failedTargets[0]!.error.message).toContain('target "usb"');
    expect(await keys(dying)).toEqual([]);
    const opened = await openSnapshot(good, 'job', result.snapshots[0]!.id, s.encryption);
    expect(opened.manifest.entries).toHaveLength(20);
    expect(opened.manifest.segments.length).toBeGreaterThan(4);
  });

  it('a target failing on the manifest keeps no segment and no snapshot', async () => {
    const good = new Storage(new MemoryAdapter(), 'good');
    const dying = new Storage(new FailingAdapter((key) => key.startsWith('manifests/')), 'nas');
    const result = await runBackup({ name: 'job', sources: [syntheticSource(5, 300_000)], targets: [good, dying] }, await settings());
    expect(result.snapshots.map((x) => x.target)).toEqual(['good']);
    expect(result.failedTargets.map((f) => f.target)).toEqual(['nas']);
    expect(await keys(dying)).toEqual([]);
    expect(await listSnapshots(good)).toHaveLength(1);
  });

  it('fails the job when every target fails, leaving nothing behind', async () => {
    const x = new Storage(new FailingAdapter((_key, puts) => puts > 1), 'x');
    const y = new Storage(new FailingAdapter((_key, puts) => puts > 3), 'y');
    const run = runBackup({ name: 'job', sources: [syntheticSource(20, 300_000)], targets: [x, y] }, await settings());
    await expect(run).rejects.toSatisfy((err) => isFailsafeError(err, 'E_STORAGE'));
    expect(await keys(x)).toEqual([]);
    expect(await keys(y)).toEqual([]);
  });

  it('fails at once when the only target refuses every segment (a full disk), however many segments are left', async () => {
    // Slow failures let every window permit be taken first; a failed segment never gives its permit back, so the
    // run must not wait for the next segment to reach the store.
    const full = new Storage(new FailingAdapter(() => true, 50), 'full');
    const run = runBackup({ name: 'job', sources: [syntheticSource(60, 300_000)], targets: [full] }, await settings());
    await expect(run).rejects.toSatisfy((err) => isFailsafeError(err, 'E_STORAGE') && /no space left/.test((err as Error).message));
    expect(await keys(full)).toEqual([]);
  });

  it('a cancelled run is not a target failure: it rejects with E_ABORTED', async () => {
    const a = new Storage(new MemoryAdapter(), 'a');
    const b = new Storage(new MemoryAdapter(), 'b');
    const controller = new AbortController();
    const run = runBackup({ name: 'job', sources: [syntheticSource(100, 300_000)], targets: [a, b] }, await settings(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.segments >= 2) controller.abort();
      },
    });
    await expect(run).rejects.toSatisfy((err) => isFailsafeError(err, 'E_ABORTED'));
    expect(await keys(a)).toEqual([]);
    expect(await keys(b)).toEqual([]);
  });
});
