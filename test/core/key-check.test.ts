/** Which key set a target accepts: the key slots of each job's newest snapshot, by time, not by id. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { checkKeySet } from '../../core/backup/key-check.js';
import { runBackup } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { Encryption } from '../../core/crypto/encryption.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { getSodium } from '../../core/crypto/sodium.js';
import { Storage } from '../../core/repository/storage.js';
import { syntheticSource } from '../helpers/sources.js';

beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

const keyFile = async (fill: number): Promise<Encryption> => ({
  mode: 'keys',
  sodium: await getSodium(),
  keyRing: await KeyRing.create({ keyFileKey: new Uint8Array(32).fill(fill) }),
});

describe('checkKeySet', () => {
  it('within one second the header times tell which snapshot is the newest', async () => {
    const [old, changed] = [await keyFile(1), await keyFile(2)];
    const storage = new Storage(new MemoryAdapter(), 'disk');
    const backup = async (job: string, at: string, encryption: Encryption): Promise<void> => {
      vi.setSystemTime(new Date(at));
      const settings = { stages: builtinStages('none', 0), encryption, segmentSize: 1024 * 1024, parallelism: 1 };
      await runBackup({ name: job, sources: [syntheticSource(1, 100)], targets: [storage] }, settings);
    };
    // Ids end in random digits: across six jobs, an order by id alone would pick the older snapshot in some.
    const jobs = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const job of jobs) {
      await backup(job, '2026-11-22T02:00:00.100Z', old);
      await backup(job, '2026-11-22T02:00:00.900Z', changed);
    }
    for (const job of jobs) {
      await expect(checkKeySet([storage], job, changed)).resolves.toBeUndefined();
      await expect(checkKeySet([storage], job, old)).rejects.toMatchObject({ code: 'E_WRONG_KEY' });
    }
    await expect(checkKeySet([storage], 'new-job', old)).resolves.toBeUndefined();
  });
});
