/**
 * A target that fails as disks and stores do, through the fault-injecting
 * wrapper registered in the composition root (test/helpers/faulty-storage.ts),
 * in both repository formats: a full disk and I/O errors while writing, an
 * I/O error while reading, every operation slow, a listing that breaks part
 * way. Each case ends in a correct result or a documented error (E_STORAGE,
 * docs/errors.md), nothing broken is listed, and the rerun on a sound target
 * completes and verifies (docs/reliability.md has the table).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe, type ConfigObject } from '../../api/index.js';
import { TOKENS } from '../../api/tokens.js';
import { FailsafeError } from '../../core/errors.js';
import { faulty, type FaultLog, type FaultRule } from '../helpers/faulty-storage.js';
import { treeHash } from '../helpers/tree.js';

function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

async function deployment(format: 1 | 2): Promise<{ root: string; data: string; config: ConfigObject }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-faults-'));
  const data = join(root, 'data');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'big.bin'), bytes(2_500_000, `big-${format}`));
  await writeFile(join(data, 'small.txt'), 'small\n');
  await writeFile(join(root, 'failsafe.key'), randomBytes(32).toString('base64'));
  const config: ConfigObject = {
    version: 1,
    targets: { disk: { type: 'local', path: './backups' } },
    encryption: { keyFile: './failsafe.key' },
    repository: { format, packSize: '1MiB' },
    segmentSize: '1MiB',
    jobs: { app: { sources: [{ type: 'directory', path: './data' }], targets: ['disk'], retention: { keepLast: 1 } } },
  } as ConfigObject;
  return { root, data, config };
}

/** Runs `body` with the deployment opened over a target the rules fault (none: a sound one). */
async function withTarget<T>(root: string, config: ConfigObject, rules: FaultRule[], body: (f: Failsafe, log: FaultLog) => Promise<T>): Promise<T> {
  const log: FaultLog = { hit: [] };
  const failsafe = await Failsafe.fromConfig(config, {
    baseDir: root,
    warn: () => undefined,
    configure: (c) => c.registerInstance(TOKENS.StorageWrappers, rules.length > 0 ? [faulty(rules, log)] : []),
  });
  try {
    return await body(failsafe, log);
  } finally {
    await failsafe.close();
  }
}

/** On a sound target: every listed snapshot verifies with its data, and the newest restores bit-identical to `data`. */
async function expectWhole(root: string, config: ConfigObject, data: string, snapshots: number): Promise<void> {
  await withTarget(root, config, [], async (f) => {
    const listed = await f.list();
    expect(listed).toHaveLength(snapshots);
    for (const s of listed) expect((await f.verify(s.id, { job: 'app', readData: true })).ok).toBe(true);
    const to = await mkdtemp(join(tmpdir(), 'failsafe-faults-out-'));
    await f.restore('latest', { job: 'app', to });
    expect(await treeHash(join(to, 'data'))).toBe(await treeHash(data));
  });
}

const DATA_OBJECTS = /^(data|packs)\//;

describe.each([1, 2] as const)('storage faults, repository format %i', (format) => {
  it.each([
    ['a full disk (ENOSPC) from the second data object on', { kind: 'ENOSPC', op: 'put', key: DATA_OBJECTS, skip: 1 }, /no space left on device/],
    ['an I/O error (EIO) on the manifest or snapshot write', { kind: 'EIO', op: 'put', key: /^(manifests|snapshots)\//, times: 1 }, /i\/o error/],
  ] as const)('backup on %s: fails with E_STORAGE, lists nothing, and the rerun completes', async (_what, rule, message) => {
    const { root, data, config } = await deployment(format);
    await withTarget(root, config, [rule as FaultRule], async (f, log) => {
      const outcome = await f.backup();
      expect(log.hit.length).toBeGreaterThan(0);
      expect(outcome.failures.map((x) => x.error.code)).toEqual(['E_STORAGE']);
      expect(outcome.failures[0]!.error.message).toMatch(message);
    });
    await withTarget(root, config, [], async (f) => {
      expect(await f.list()).toEqual([]);
      expect((await f.backup()).failures).toEqual([]);
    });
    await expectWhole(root, config, data, 1);
  });

  it('restore --to on an I/O error (EIO) reading data: E_STORAGE, nothing left in the destination, the rerun is bit-identical', async () => {
    const { root, data, config } = await deployment(format);
    await withTarget(root, config, [], async (f) => expect((await f.backup()).failures).toEqual([]));
    const to = await mkdtemp(join(tmpdir(), 'failsafe-faults-out-'));
    await withTarget(root, config, [{ kind: 'EIO', op: 'get', key: DATA_OBJECTS }], async (f, log) => {
      const failed = await f.restore('latest', { job: 'app', to }).catch((err: unknown) => err);
      expect(log.hit.length).toBeGreaterThan(0);
      expect(failed).toBeInstanceOf(FailsafeError);
      expect((failed as FailsafeError).code).toBe('E_STORAGE');
    });
    expect(await readdir(to)).toEqual([]);
    await expectWhole(root, config, data, 1);
  });

  it('every operation slow (40 ms): backup, verify and restore are correct', async () => {
    const { root, data, config } = await deployment(format);
    await withTarget(root, config, [{ kind: 'slow', op: 'any', delayMs: 40 }], async (f, log) => {
      expect((await f.backup()).failures).toEqual([]);
      expect((await f.verify('latest', { job: 'app', readData: true })).ok).toBe(true);
      expect(log.hit.length).toBeGreaterThan(3);
    });
    await expectWhole(root, config, data, 1);
  });

  it('prune on a listing that breaks part way: an E_STORAGE error, nothing kept is lost, the rerun finishes', async () => {
    const { root, data, config } = await deployment(format);
    await withTarget(root, config, [], async (f) => {
      expect((await f.backup()).failures).toEqual([]);
      await writeFile(join(data, 'small.txt'), 'changed\n');
      expect((await f.backup()).failures).toEqual([]);
    });
    for (const after of [0, 1, 2]) {
      await withTarget(root, config, [{ kind: 'partial-list', op: 'list', after, times: 1 }], async (f, log) => {
        const report = await f.prune({ orphanGraceMs: 0 });
        expect(log.hit.length).toBe(1);
        expect(report.errors.map((e) => e.code)).toEqual(['E_STORAGE']);
      });
      const listed = await withTarget(root, config, [], (f) => f.list());
      expect(listed.length).toBeGreaterThanOrEqual(1);
      await expectWhole(root, config, data, listed.length);
    }
    await withTarget(root, config, [], async (f) => expect((await f.prune({ orphanGraceMs: 0 })).errors).toEqual([]));
    await expectWhole(root, config, data, 1);
  });
});
