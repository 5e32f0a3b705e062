/**
 * `verifyUploads` (core/repository/read-back.ts) against a store that keeps
 * other bytes than it was sent and says nothing: a wrapper between the real
 * local adapter and the rest damages what it stores. Read back, the damage is
 * put again before the manifest is written, in both formats (v1 segments, v2
 * packs), and the snapshot verifies; with `off` the same damage gives a backup
 * that reports success and fails verify, which is what the option prevents.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe, type ConfigObject } from '../../api/index.js';
import { TOKENS, type StorageWrapper } from '../../api/tokens.js';
import { noRetries } from '../../core/repository/retry-counts.js';

/** Incompressible bytes, so segments and packs are as large as the data. */
function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

/** What the store keeps instead of `body`, at the `count`-th put of one key. */
type Damage = (body: Buffer, count: number) => Buffer;

/** A flipped byte at a place of its own in every object, at the first put only. */
const flipOnce: Damage = (body, count) => (count === 1 ? flip(body) : body);
/** The object's last 100 bytes lost, at the first put only: a store that truncates. */
const truncateOnce: Damage = (body, count) => (count === 1 ? body.subarray(0, body.length - 100) : body);
const flipAlways: Damage = (body) => flip(body);

function flip(body: Buffer): Buffer {
  const copy = Buffer.from(body);
  const at = createHash('sha256').update(body).digest().readUInt32BE(0) % copy.length;
  copy[at] = copy[at]! ^ 0x40;
  return copy;
}

/**
 * Damages the bodies of segments (`data/`) and packs (`packs/`) as `damage` says; everything else passes. With
 * `verifies`, it declares the store checks checksums (the `verifiesChecksums` capability), wrongly, as a test of
 * what the capability makes the read-back skip; `reads` counts the reads of those objects.
 */
function damaging(damage: Damage, damaged: string[], verifies = false, reads = { count: 0 }): StorageWrapper {
  const puts = new Map<string, number>();
  return (adapter) =>
    new Proxy(adapter, {
      get(target, property) {
        if (property === 'capabilities') return { ...target.capabilities, verifiesChecksums: verifies };
        if (property === 'get' || property === 'head' || property === 'getBuffer') {
          const call = Reflect.get(target, property, target) as ((key: string, ...rest: unknown[]) => unknown) | undefined;
          return (
            call &&
            ((key: string, ...rest: unknown[]) => {
              if (/^(data|packs)\//.test(key)) reads.count++;
              return call.call(target, key, ...rest);
            })
          );
        }
        if (property !== 'put') {
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        }
        return (key: string, body: Buffer, options: object) => {
          if (!/^(data|packs)\//.test(key) || !Buffer.isBuffer(body)) return target.put(key, body, options);
          const count = (puts.get(key) ?? 0) + 1;
          puts.set(key, count);
          const stored = damage(body, count);
          if (!stored.equals(body)) damaged.push(key);
          return target.put(key, stored, options);
        };
      },
    });
}

async function open(format: 1 | 2, verifyUploads: string | undefined, damage: Damage, verifies = false) {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-read-back-'));
  await mkdir(join(root, 'data'), { recursive: true });
  await writeFile(join(root, 'data', 'big.bin'), bytes(2_500_000, `big-${format}`));
  await writeFile(join(root, 'data', 'small.txt'), 'small\n');
  // A key file rather than a passphrase: no key derivation to wait for.
  await writeFile(join(root, 'failsafe.key'), randomBytes(32).toString('base64'));
  const config: ConfigObject = {
    version: 1,
    targets: { disk: { type: 'local', path: './backups', ...(verifyUploads ? { verifyUploads } : {}) } },
    encryption: { keyFile: './failsafe.key' },
    repository: { format, packSize: '1MiB' },
    jobs: { app: { sources: [{ type: 'directory', path: './data' }], targets: ['disk'] } },
  };
  const damaged: string[] = [];
  const warnings: string[] = [];
  const reads = { count: 0 };
  const failsafe = await Failsafe.fromConfig(config, {
    baseDir: root,
    warn: (message) => void warnings.push(message),
    configure: (c) => c.registerInstance(TOKENS.StorageWrappers, [damaging(damage, damaged, verifies, reads)]),
  });
  return { failsafe, damaged, warnings, reads };
}

describe.each([1, 2] as const)('verifyUploads, repository format %i', (format) => {
  it.each([
    ['all', flipOnce],
    ['sample', truncateOnce],
  ] as const)('%s: an object the store damaged is put again before the manifest, and the snapshot verifies', async (mode, damage) => {
    const { failsafe, damaged, warnings } = await open(format, mode, damage);
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures).toEqual([]);
      expect(damaged.length).toBeGreaterThan(0);
      // One warning for each damaged object, naming it, and each counted.
      expect(warnings.filter((w) => w.includes('read back'))).toHaveLength(damaged.length);
      expect(outcome.retries.readBacks).toBe(damaged.length);
      expect((await failsafe.verify('latest', { job: 'app', readData: true })).ok).toBe(true);
    } finally {
      await failsafe.close();
    }
  });

  it('a sound store: every object read back, none put again, nothing counted', async () => {
    const { failsafe, reads } = await open(format, undefined, (body) => body);
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures).toEqual([]);
      expect(reads.count).toBeGreaterThan(0);
      expect(outcome.retries).toEqual(noRetries());
    } finally {
      await failsafe.close();
    }
  });

  it('a store that verifies checksums (the capability): no read-back by default; an explicit `sample` still reads back', async () => {
    const skipped = await open(format, undefined, flipOnce, true);
    try {
      expect((await skipped.failsafe.backup()).failures).toEqual([]);
      expect(skipped.damaged.length).toBeGreaterThan(0);
      // Nothing read back: the store is trusted to have refused a damaged put (this one lies, so verify finds it).
      expect(skipped.reads.count).toBe(0);
      expect((await skipped.failsafe.verify('latest', { job: 'app', readData: true })).ok).toBe(false);
    } finally {
      await skipped.failsafe.close();
    }
    const explicit = await open(format, 'sample', flipOnce, true);
    try {
      expect((await explicit.failsafe.backup()).failures).toEqual([]);
      expect(explicit.reads.count).toBeGreaterThan(0);
    } finally {
      await explicit.failsafe.close();
    }
  });

  it('off: the same damage gives a backup that reports success and fails verify', async () => {
    const { failsafe, damaged } = await open(format, 'off', flipOnce);
    try {
      expect((await failsafe.backup()).failures).toEqual([]);
      expect(damaged.length).toBeGreaterThan(0);
      expect((await failsafe.verify('latest', { job: 'app', readData: true })).ok).toBe(false);
    } finally {
      await failsafe.close();
    }
  });

  it('all: an object damaged at every put fails the backup with E_CHECKSUM, and no snapshot is listed', async () => {
    const { failsafe } = await open(format, 'all', flipAlways);
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures.map((f) => f.error.code)).toEqual(['E_CHECKSUM']);
      expect(outcome.failures[0]!.error.message).toMatch(/read back after writing.*the same on 3 puts/);
      expect(await failsafe.list()).toEqual([]);
    } finally {
      await failsafe.close();
    }
  });
});
