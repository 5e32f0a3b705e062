/**
 * The backup hands each segment's SHA-256, computed anyway for the manifest,
 * to the targets' puts, so an adapter sends it for the store to verify without
 * hashing the segment again (adapters/s3/integrity.ts).
 */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { runBackup } from '../../core/backup/run-backup.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { PutOptions } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import { Storage } from '../../core/repository/storage.js';
import { syntheticSource } from '../helpers/sources.js';

class RecordingAdapter extends MemoryAdapter {
  readonly hints = new Map<string, { given: string | undefined; actual: string }>();
  override async put(key: string, body: Buffer, options?: PutOptions): Promise<{ size: number }> {
    this.hints.set(key, { given: options?.sha256, actual: createHash('sha256').update(body).digest('hex') });
    return super.put(key, body, options);
  }
}

it('every segment put carries the SHA-256 of exactly the bytes put', async () => {
  const adapter = new RecordingAdapter();
  const settings = { stages: builtinStages('zstd', 3), encryption: await createEncryption({ mode: 'none' }), segmentSize: 256 * 1024, parallelism: 2 };
  const result = await runBackup({ name: 'job', sources: [syntheticSource(6, 200_000)], targets: [new Storage(adapter, 't')] }, settings);
  const [snapshot] = result.snapshots;
  const segments = [...adapter.hints].filter(([key]) => key.includes(`/${snapshot!.id}/`) && !key.endsWith('manifest'));
  expect(segments.length).toBeGreaterThan(2);
  for (const [key, { given, actual }] of segments) expect({ key, given }).toEqual({ key, given: actual });
});
