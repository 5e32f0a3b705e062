/**
 * The composition root really assembles the pipeline: stages and
 * collaborators registered through OpenOptions.configure are the ones used,
 * per job, in the worker threads too, and on the read side.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/failsafe.js';
import { TOKENS, type StorageWrapper } from '../../api/tokens.js';
import type { Clock } from '../../core/automation/scheduler.js';
import type { CompressionStage, ChecksumStage } from '../../core/codec/stages.js';
import { FailsafeError } from '../../core/errors.js';
import { decodeManifest } from '../../core/format/manifest.js';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
// @ts-expect-error a plain JavaScript fixture without types
import { writerThreadOf } from '../fixtures/custom-stages.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { tree } from '../helpers/tree.js';

const STAGES = pathToFileURL(join(import.meta.dirname, '../fixtures/custom-stages.js')).href;
const tagged: CompressionStage = { algorithm: 'tagged', level: 0, implementation: { module: STAGES, export: 'createTaggedCodec' } };
const sha1: ChecksumStage = { name: 'sha1', implementation: { module: STAGES, export: 'createSha1' } };

async function deployment(extra: Record<string, unknown> = {}): Promise<{ dir: string; config: Record<string, unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-composition-'));
  await mkdir(join(dir, 'data', 'sub'), { recursive: true });
  await writeFile(join(dir, 'data', 'a.txt'), 'alpha '.repeat(5000));
  await writeFile(join(dir, 'data', 'sub', 'b.bin'), createHash('sha512').update('b').digest());
  const config = {
    version: 1,
    encryption: 'none',
    compression: { algorithm: 'zstd', level: 1 },
    targets: { disk: { type: 'local', path: join(dir, 'target') } },
    jobs: {
      custom: { sources: [{ type: 'directory', path: join(dir, 'data') }], targets: ['disk'] },
      plain: { sources: [{ type: 'directory', path: join(dir, 'data') }], targets: ['disk'] },
    },
    ...extra,
  };
  return { dir, config };
}

/** The one snapshot of `job` in the local target: its manifest and its stored segment files. */
async function stored(dir: string, job: string): Promise<{ manifest: Awaited<ReturnType<typeof decodeManifest>>['manifest']; segments: Buffer[] }> {
  const [id] = await readdir(join(dir, 'target', 'manifests', job));
  const bytes = await readFile(join(dir, 'target', 'manifests', job, id!));
  const { manifest } = await decodeManifest(bytes, job, () => Promise.reject(new Error('not encrypted')));
  const segments = await Promise.all(manifest.segments.map((s) => readFile(join(dir, 'target', s.key))));
  return { manifest, segments };
}

describe('the composition root', () => {
  it('uses a compression codec and a checksum registered for one job, in the worker threads, and reads them back', async () => {
    const { dir, config } = await deployment();
    const failsafe = await Failsafe.fromConfig(config, {
      baseDir: dir,
      configure: (container, { job }) => {
        if (job !== 'custom') return;
        container.registerInstance(TOKENS.Compression, tagged);
        container.registerInstance(TOKENS.Checksum, sha1);
      },
    });
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures).toEqual([]);
      const custom = await stored(dir, 'custom');
      expect(custom.manifest.compression.algorithm).toBe('tagged');
      expect(custom.manifest.checksum).toBe('sha1');
      expect(custom.segments.length).toBeGreaterThan(0);
      custom.segments.forEach((bytes, i) => {
        expect(bytes.subarray(0, 8).toString()).toBe('TAGGED01');
        // Thread id 0 is the main thread: the codec ran in a worker.
        expect(writerThreadOf(bytes)).toBeGreaterThan(0);
        expect(custom.manifest.segments[i]!.sha256).toBe(createHash('sha1').update(bytes).digest('hex'));
      });
      // The other job keeps the configuration's stages.
      const plain = await stored(dir, 'plain');
      expect(plain.manifest.compression.algorithm).toBe('zstd');
      expect(plain.manifest.checksum).toBeUndefined();
      plain.segments.forEach((bytes, i) => expect(plain.manifest.segments[i]!.sha256).toBe(createHash('sha256').update(bytes).digest('hex')));

      expect((await failsafe.verify(undefined, { job: 'custom', readData: true })).ok).toBe(true);
      await failsafe.restore('latest', { job: 'custom', to: join(dir, 'restored') });
      expect(await tree(join(dir, 'restored', 'data'))).toEqual(await tree(join(dir, 'data')));
    } finally {
      await failsafe.close();
    }
  });

  it('reads a snapshot written with a registered codec only where that codec is registered', async () => {
    const { dir, config } = await deployment();
    const writer = await Failsafe.fromConfig(config, { baseDir: dir, configure: (c) => c.registerInstance(TOKENS.Compression, tagged) });
    await writer.backup(['custom']);
    await writer.close();
    const reader = await Failsafe.fromConfig(config, { baseDir: dir });
    try {
      const report = await reader.verify(undefined, { job: 'custom', readData: true });
      expect(report.ok).toBe(false);
      expect(report.errors[0]!.code).toBe('E_UNSUPPORTED_FORMAT');
    } finally {
      await reader.close();
    }
  });

  it('runs the schedules on the registered clock', async () => {
    const { dir, config } = await deployment({ stateFile: 'state.json' });
    (config.jobs as Record<string, Record<string, unknown>>).plain!.schedule = '0 * * * *';
    const clock = new FakeClock('2026-12-02T10:30:00Z');
    const failsafe = await Failsafe.fromConfig(config, { baseDir: dir, configure: (c) => c.registerInstance<Clock>(TOKENS.Clock, clock) });
    const done: string[] = [];
    const scheduler = await failsafe.scheduler({ onEvent: (e) => void (e.type === 'done' && done.push(`${e.task}:${e.ok}`)) });
    try {
      await scheduler.start();
      expect(await failsafe.list({ job: 'plain' })).toEqual([]);
      await clock.advance(30 * 60_000);
      await expect.poll(() => done, { timeout: 30_000 }).toEqual(['backup plain:true']);
      expect(await failsafe.list({ job: 'plain' })).toHaveLength(1);
    } finally {
      await scheduler.stop();
      await failsafe.close();
    }
  });

  it('wraps every target with the registered storage wrappers, inside the retry', async () => {
    const { dir, config } = await deployment();
    const seen: string[] = [];
    let injected = 0;
    // A put that fails once as an unreachable store would: the retry around the wrapper sends it again.
    const flaky: StorageWrapper = (adapter, target) => ({
      ...adapter,
      type: adapter.type,
      capabilities: adapter.capabilities,
      put: async (key, body, options) => {
        seen.push(`${target}:${key}`);
        if (key.startsWith('data/') && injected++ === 0) throw new FailsafeError('E_UNREACHABLE', 'injected: connection reset');
        return adapter.put(key, body, options);
      },
      get: (key, options) => adapter.get(key, options),
      head: (key, options) => adapter.head(key, options),
      list: (prefix, options) => adapter.list(prefix, options),
      delete: (key, options) => adapter.delete(key, options),
    });
    const failsafe = await Failsafe.fromConfig(config, { baseDir: dir, configure: (c) => c.registerInstance(TOKENS.StorageWrappers, [flaky]) });
    try {
      const outcome = await failsafe.backup(['plain']);
      expect(outcome.failures).toEqual([]);
      // The segment whose put failed was sent again, and the snapshot completed.
      const first = seen.find((s) => s.startsWith('disk:data/'))!;
      expect(seen.filter((s) => s === first)).toHaveLength(2);
      expect(seen.some((s) => s.startsWith('disk:manifests/'))).toBe(true);
      expect((await failsafe.verify(undefined, { job: 'plain', readData: true })).ok).toBe(true);
    } finally {
      await failsafe.close();
    }
  });

  it('a wrapper that refuses every write fails the backup with its code and leaves no snapshot', async () => {
    const { dir, config } = await deployment();
    const memory = new MemoryAdapter();
    const refusing: StorageWrapper = () => ({
      type: 'memory',
      capabilities: memory.capabilities,
      put: () => Promise.reject(new FailsafeError('E_PERMISSION', 'injected: read-only')),
      get: memory.get.bind(memory),
      head: memory.head.bind(memory),
      list: memory.list.bind(memory),
      delete: memory.delete.bind(memory),
    });
    const failsafe = await Failsafe.fromConfig(config, { baseDir: dir, configure: (c) => c.registerInstance(TOKENS.StorageWrappers, [refusing]) });
    try {
      const outcome = await failsafe.backup(['plain']);
      expect(outcome.failures.map((f) => f.error.code)).toEqual(['E_PERMISSION']);
      expect(await failsafe.list()).toEqual([]);
    } finally {
      await failsafe.close();
    }
  });
});
