/**
 * A snapshot named by its full id and job is found by its manifest's name,
 * without listing the job's snapshots (Repository.resolveSnapshot); whatever
 * that cannot answer (a prefix, no job, a damaged header, no such snapshot)
 * gets the listing's answer, as before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { manifestKey } from '../../core/repository/layout.js';
import { Repository } from '../../core/repository/repository.js';
import { listSnapshots } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { snapshotsAt } from '../helpers/sources.js';

afterEach(() => void vi.useRealTimers());

async function twoSnapshots(): Promise<{ storage: Storage; repository: Repository; ids: string[]; listed: () => number }> {
  vi.useFakeTimers({ toFake: ['Date'] });
  const storage = new Storage(new MemoryAdapter(), 'mem');
  const ids = await snapshotsAt([storage], ['2026-11-01T10:00:00Z', '2026-11-02T10:00:00Z']);
  vi.useRealTimers();
  const list = vi.spyOn(storage, 'list');
  return { storage, repository: new Repository(storage), ids, listed: () => list.mock.calls.length };
}

describe('resolving a snapshot', () => {
  it('by its full id and job reads its header alone, and answers what the listing answers', async () => {
    const { storage, repository, ids, listed } = await twoSnapshots();
    const all = await listSnapshots(storage, { job: 'app' });
    const before = listed();
    for (const id of ids) expect(await repository.resolveSnapshot(id, 'app')).toEqual(all.find((s) => s.id === id));
    expect(listed()).toBe(before);
    // A prefix, or no job: the listing.
    expect((await repository.resolveSnapshot(ids[0]!.slice(0, 17), 'app')).id).toBe(ids[0]);
    expect((await repository.resolveSnapshot(ids[1]!)).id).toBe(ids[1]);
    expect(listed()).toBeGreaterThan(before);
  });

  it('leaves a damaged header, another job and a missing id to the listing, with its errors', async () => {
    const { storage, repository, ids } = await twoSnapshots();
    const key = manifestKey('app', ids[1]!);
    const bytes = await storage.getBuffer(key);
    bytes.writeUInt8(bytes.readUInt8(20) ^ 0xff, 20); // inside the header's JSON
    await storage.put(key, bytes);
    await expect(repository.resolveSnapshot(ids[1]!, 'app')).rejects.toMatchObject({ code: 'E_CORRUPT' });
    await expect(repository.resolveSnapshot(ids[0]!, 'other')).rejects.toMatchObject({ code: 'E_SNAPSHOT_NOT_FOUND' });
    await expect(repository.resolveSnapshot('20261103T100000Z-000000', 'app')).rejects.toMatchObject({ code: 'E_SNAPSHOT_NOT_FOUND' });
    expect((await repository.resolveSnapshot(ids[0]!, 'app')).id).toBe(ids[0]);
  });
});
