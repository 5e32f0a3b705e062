/**
 * The headers a long-lived process keeps: a second listing reads only what
 * is new, an object written again is read again, and a store without times
 * or a failed read keeps nothing.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { runBackup } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { ByteRange, StorageOptions } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import { HeaderCache, keepHeaders } from '../../core/repository/header-cache.js';
import { listSnapshots } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { syntheticSource } from '../helpers/sources.js';

/** A memory store that counts the reads of manifests. */
class CountingAdapter extends MemoryAdapter {
  manifestReads = 0;
  override async get(key: string, options?: StorageOptions & { range?: ByteRange }) {
    if (key.startsWith('manifests/')) this.manifestReads += 1;
    return super.get(key, options);
  }
}

async function backUp(storage: Storage): Promise<string> {
  const settings = { stages: builtinStages('none', 0), encryption: await createEncryption({ mode: 'none' }), segmentSize: 1024 * 1024, parallelism: 1 };
  const result = await runBackup({ name: 'job', sources: [syntheticSource(2, 1000)], targets: [storage] }, settings);
  return result.snapshots[0]!.id;
}

describe('kept snapshot headers', () => {
  it('a second listing reads only the new snapshot; a storage that keeps nothing reads them all again', async () => {
    const adapter = new CountingAdapter();
    const storage = new Storage(adapter, 'disk');
    await backUp(storage);
    await backUp(storage);
    await listSnapshots(storage);
    const unkept = adapter.manifestReads;
    await listSnapshots(storage);
    expect(adapter.manifestReads).toBe(2 * unkept);

    keepHeaders(storage);
    await listSnapshots(storage);
    const before = adapter.manifestReads;
    const third = await backUp(storage);
    const listed = await listSnapshots(storage);
    expect(listed[0]!.id).toBe(third);
    expect(listed).toHaveLength(3);
    // Only the new one's header was read (one or two ranged reads).
    expect(adapter.manifestReads - before).toBeLessThanOrEqual(2);
    expect(adapter.manifestReads - before).toBeGreaterThan(0);
    // A kept header is a copy: changing an answer changes no later one.
    listed[0]!.tags = ['changed'];
    expect((await listSnapshots(storage))[0]!.tags).toBeUndefined();
  });

  it('reads an object again when its size or time differ, and keeps no failed read nor an object without a time', async () => {
    const cache = new HeaderCache();
    let reads = 0;
    const read = (value: string) => () => ((reads += 1), Promise.resolve(value));
    const at = new Date(1_000);
    expect(await cache.get({ key: 'a', size: 10, modified: at }, read('one'))).toBe('one');
    expect(await cache.get({ key: 'a', size: 10, modified: new Date(1_000) }, read('two'))).toBe('one');
    expect(await cache.get({ key: 'a', size: 11, modified: at }, read('three'))).toBe('three');
    expect(await cache.get({ key: 'a', size: 11, modified: new Date(2_000) }, read('four'))).toBe('four');
    expect(reads).toBe(3);
    await expect(cache.get({ key: 'b', size: 1, modified: at }, () => Promise.reject(new Error('broken')))).rejects.toThrow('broken');
    expect(await cache.get({ key: 'b', size: 1, modified: at }, read('five'))).toBe('five');
    expect(await cache.get({ key: 'c', size: 1 }, read('six'))).toBe('six');
    expect(await cache.get({ key: 'c', size: 1 }, read('seven'))).toBe('seven');
  });
});
