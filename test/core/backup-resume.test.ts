import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { BackupJournal } from '../../core/backup/journal.js';
import { runBackup, type BackupSettings } from '../../core/backup/run-backup.js';
import { CheckpointStore } from '../../core/checkpoints/store.js';
import { builtinStages } from '../../core/codec/stages.js';
import type { SourcePlugin } from '../../core/contracts.js';
import { createEncryption } from '../../core/crypto/encryption.js';
import { openSnapshot } from '../../core/repository/snapshots.js';
import { Storage } from '../../core/repository/storage.js';
import { verifySnapshot } from '../../core/restore/verify.js';
import { keys, syntheticSource } from '../helpers/sources.js';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { segmentContext, segmentKey } from '../../core/repository/layout.js';

const MTIME = new Date('2026-01-01T00:00:00Z');

/** Files whose bytes come from `content(i)`, with fixed dates, so a rerun yields the same tar stream; fails at `failAt`. */
const stableSource = (count: number, size: number, content: (i: number) => number, failAt?: number): SourcePlugin =>
  syntheticSource(count, size, failAt, { content, mtime: MTIME });

async function settings(passphrase = 'pw'): Promise<BackupSettings> {
  return {
    stages: builtinStages('gzip', 1),
    encryption: await createEncryption({ mode: 'keys', passphrase }),
    segmentSize: 1024 * 1024,
    parallelism: 2,
  };
}

async function run(storage: Storage, s: BackupSettings, source: SourcePlugin, warnings: string[] = []) {
  const store = new CheckpointStore(storage);
  const journal = await BackupJournal.open(store, 'job', [storage], { encryption: s.encryption, segmentSize: s.segmentSize, compression: 'gzip-1' }, (m) =>
    warnings.push(m),
  );
  return { journal, result: runBackup({ name: 'job', sources: [source], targets: [storage] }, s, { journal, warn: (m) => warnings.push(m) }) };
}

const dataKeys = async (storage: Storage) => (await keys(storage)).filter((k) => k.startsWith('data/'));

describe('resuming an interrupted backup', () => {
  it('keeps the stored segments, reuses them on the next run and sends only the rest', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const s = await settings();
    const first = await run(
      storage,
      s,
      stableSource(60, 200_000, (i) => i, 50),
    );
    await expect(first.result).rejects.toThrow('disk vanished');
    const kept = await dataKeys(storage);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    const checkpoint = await new CheckpointStore(storage).latest<{ segments: unknown[] }>('backup.job');
    const recorded = checkpoint!.data.segments.length;
    expect(recorded).toBeGreaterThanOrEqual(2);
    expect(checkpoint).toMatchObject({ state: 'failed', metadata: { error: expect.stringContaining('disk vanished') } });
    // The checkpoint holds the sealed key slots, never the data key.
    expect(JSON.stringify(checkpoint)).toContain('"slots"');

    const second = await run(
      storage,
      s,
      stableSource(60, 200_000, (i) => i),
    );
    expect(second.journal.resumed).toBe(true);
    expect(second.journal.id).toBe(first.journal.id);
    const [summary] = (await second.result).snapshots;
    expect(summary!.id).toBe(first.journal.id);
    // Every segment recorded before the failure is reused; only the others are sent.
    expect(summary!.resumed!.reusedSegments).toBe(recorded);
    expect(summary!.resumed!.reusedSegments + summary!.resumed!.uploadedSegments).toBe(
      (await openSnapshot(storage, 'job', summary!.id, s.encryption)).manifest.segments.length,
    );
    const report = await verifySnapshot(await openSnapshot(storage, 'job', summary!.id, s.encryption), { readData: true });
    expect(report).toMatchObject({ ok: true, errors: [] });
    // Done: the checkpoints, sealed key slots included, are gone.
    expect(await new CheckpointStore(storage).latest('backup.job')).toBeUndefined();
    expect((await keys(storage)).filter((k) => k.startsWith('checkpoints/'))).toEqual([]);
  });

  it('redoes the segments of a source that changed meanwhile, so the snapshot holds the new bytes', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const s = await settings();
    await expect(
      (
        await run(
          storage,
          s,
          stableSource(60, 200_000, (i) => i, 50),
        )
      ).result,
    ).rejects.toThrow();
    const recorded = (await new CheckpointStore(storage).latest<{ segments: unknown[] }>('backup.job'))!.data.segments.length;
    // File 2 (in segment 0) changed, same size: segment 0 is sent again, the later ones still match.
    const changed = stableSource(60, 200_000, (i) => (i === 2 ? 99 : i));
    const second = await run(storage, s, changed);
    const [summary] = (await second.result).snapshots;
    expect(summary!.resumed!.reusedSegments).toBe(recorded - 1);
    const opened = await openSnapshot(storage, 'job', summary!.id, s.encryption);
    expect(await verifySnapshot(opened, { readData: true })).toMatchObject({ ok: true });
    const f2 = opened.manifest.entries.find((e) => e.path === 'f2')!;
    expect(f2.sha256).toBe((await import('node:crypto')).createHash('sha256').update(Buffer.alloc(200_000, 99)).digest('hex'));
  });

  it('removes segments past the new end when the source shrank', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const s = await settings();
    await expect(
      (
        await run(
          storage,
          s,
          stableSource(60, 200_000, (i) => i, 55),
        )
      ).result,
    ).rejects.toThrow();
    const before = (await dataKeys(storage)).length;
    const [summary] = (
      await (
        await run(
          storage,
          s,
          stableSource(12, 200_000, (i) => i),
        )
      ).result
    ).snapshots;
    const segments = (await openSnapshot(storage, 'job', summary!.id, s.encryption)).manifest.segments.length;
    expect(before).toBeGreaterThan(segments);
    expect(await dataKeys(storage)).toHaveLength(segments);
    expect(summary!.resumed!.reusedSegments).toBe(segments - 1); // the last one is shorter now
  });

  it('checkpoints no plaintext hash, and resumes a checkpoint of an earlier version that has one instead of a header', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const s = await settings();
    const first = await run(
      storage,
      s,
      stableSource(60, 200_000, (i) => i, 50),
    );
    await expect(first.result).rejects.toThrow();
    const store = new CheckpointStore(storage);
    type Row = [number, number, string, number, string, string?];
    const latest = (await store.latest<{ segments: Row[] }>('backup.job'))!;
    expect(latest.data.segments.length).toBeGreaterThanOrEqual(2);
    for (const row of latest.data.segments) {
      expect(row[4]).toBe('');
      expect(Buffer.from(row[5]!, 'base64')).toHaveLength(24);
    }
    // Rewritten as an earlier version wrote it: the plaintext's SHA-256 (of the stored segment, decrypted), no header.
    const old = await Promise.all(
      latest.data.segments.map(async ([index, storedSize, sha256, plainSize]): Promise<Row> => {
        const stored = await storage.getBuffer(segmentKey('job', first.journal.id, index));
        const plain = gunzipSync(first.journal.ciphers.segments.decrypt(stored, segmentContext(first.journal.id, index)));
        return [index, storedSize, sha256, plainSize, createHash('sha256').update(plain).digest('hex')];
      }),
    );
    const { operationId, operationName, progress, metadata } = latest;
    await store.save({ operationId, operationName, state: 'failed', progress, metadata, data: { ...latest.data, segments: old } });
    const second = await run(
      storage,
      s,
      stableSource(60, 200_000, (i) => i),
    );
    const [summary] = (await second.result).snapshots;
    expect(summary!.id).toBe(first.journal.id);
    expect(summary!.resumed!.reusedSegments).toBe(old.length);
    expect(await verifySnapshot(await openSnapshot(storage, 'job', summary!.id, s.encryption), { readData: true })).toMatchObject({ ok: true });
  });

  it('starts over, removing the interrupted run, when the keys no longer open it', async () => {
    const storage = new Storage(new MemoryAdapter(), 'mem');
    const first = await run(
      storage,
      await settings('old'),
      stableSource(60, 200_000, (i) => i, 50),
    );
    await expect(first.result).rejects.toThrow();
    const warnings: string[] = [];
    const s = await settings('new');
    const second = await run(
      storage,
      s,
      stableSource(10, 200_000, (i) => i),
      warnings,
    );
    const [summary] = (await second.result).snapshots;
    expect(second.journal.resumed).toBe(false);
    expect(summary!.id).not.toBe(first.journal.id);
    expect(warnings.join('\n')).toMatch(/cannot be opened with the current keys: starting over/);
    expect((await dataKeys(storage)).every((k) => k.includes(summary!.id))).toBe(true);
  });
});
