/**
 * Retention locks on a deduplicating (v2) target, through a local folder that
 * behaves as a WORM store: every object is locked for `days` when written,
 * a locked object cannot be deleted, and `extendLock` moves a lock forward.
 * Prune must keep locked snapshots and packs, and extend the locks of what
 * the kept snapshots need.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { prune } from '../../core/maintenance/prune.js';
import { pruneDeduplicated } from '../../core/dedup/prune.js';
import { Storage } from '../../core/repository/storage.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { tree } from '../helpers/tree.js';

const KB = 1024;
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A folder with Object Lock's rules, on a clock the test moves. */
class WormFolder extends LocalAdapter {
  readonly locks = new Map<string, number>();
  now = Date.now();
  days: number | undefined;
  extendCalls = 0;

  override async put(key: string, body: Readable | Buffer): Promise<{ size: number }> {
    const out = await super.put(key, body);
    if (this.days !== undefined && !key.startsWith('locks/')) this.locks.set(key, this.now + this.days * DAY);
    return out;
  }

  override async delete(key: string): Promise<void> {
    if ((this.locks.get(key) ?? 0) > this.now) throw new Error(`${key} is locked`);
    await super.delete(key);
  }

  async lockedUntil(key: string): Promise<Date | undefined> {
    const until = this.locks.get(key);
    return until !== undefined && until > this.now ? new Date(until) : undefined;
  }

  async extendLock(key: string): Promise<Date | undefined> {
    this.extendCalls++;
    if (this.days === undefined) return undefined;
    const until = Math.max(this.locks.get(key) ?? 0, this.now + this.days * DAY);
    this.locks.set(key, until);
    return new Date(until);
  }
}

function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) createHash('sha256').update(`${seed}/${block}`).digest().copy(out, at);
  return out;
}

async function setup(days: number | undefined) {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-locks-'));
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), bytes(40 * KB, 'notes'));
  const worm = new WormFolder({ path: join(root, 'target') });
  worm.days = days;
  const storage = new Storage(worm, 'worm');
  const keyRing = await KeyRing.create({ keyFileKey: Buffer.alloc(32, 7) });
  const generation = async (gen: number): Promise<string> => {
    // The large file changes whole each generation: its old chunks are used by that generation alone.
    await writeFile(join(data, 'app.db'), bytes(600 * KB, `db-${gen}`));
    const source = new DirectorySource({ path: data }, 'data');
    const { id } = await backupDeduplicated({
      job: 'app',
      sources: [source],
      storage,
      keyRing,
      codec: createSegmentCodec('zstd', 1),
      sizes: { min: 4 * KB, avg: 16 * KB, max: 64 * KB },
      packSize: 128 * KB,
    });
    return id;
  };
  return { root, data, worm, storage, keyRing, generation };
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const object of storage.list(prefix)) out.push(object.key);
  return out;
}

describe('retention locks on a deduplicating target', () => {
  it('keeps packs still locked, sweeps them once the lock ends, and what is kept restores', async () => {
    const s = await setup(30);
    const ids = [await s.generation(0), await s.generation(1)];
    const packsBefore = await keys(s.storage, 'packs/');
    s.worm.now += 2 * HOUR; // past the grace period, well inside the lock
    s.worm.locks.delete(`snapshots/app/${ids[0]}`); // a locked snapshot is kept by retention (last case); here only its packs are
    const held = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [`app/${ids[0]}`], now: new Date(s.worm.now) });
    expect(held.locked).toBeGreaterThan(0);
    expect(held.removedPacks).toBe(0);
    expect(await keys(s.storage, 'packs/')).toEqual(packsBefore);
    const to = join(s.root, 'restored');
    await restoreDeduplicated({
      storage: s.storage,
      keyRing: s.keyRing,
      job: 'app',
      id: ids[1]!,
      plugins: new Map([['data', new DirectorySource({ path: s.data }, 'data')]]),
      destination: () => to,
    });
    expect(await tree(to)).toEqual(await tree(s.data));
    // The locks of packs nothing uses are not extended: they end, and the next prune frees them.
    s.worm.now += 31 * DAY;
    const freed = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [], now: new Date(s.worm.now) });
    expect(freed.locked).toBe(0);
    expect(freed.removedPacks).toBe(held.locked);
    expect((await keys(s.storage, 'packs/')).length).toBe(packsBefore.length - freed.removedPacks + freed.repackedPacks);
  });

  it('extends the locks of the config, the index and every pack the kept snapshots need', async () => {
    const s = await setup(10);
    await s.generation(0);
    s.worm.now += 8 * DAY; // two days of lock left on everything written so far
    await s.generation(1);
    const report = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [], now: new Date(s.worm.now) });
    const needed = ['config', ...(await keys(s.storage, 'index/')), ...(await keys(s.storage, 'packs/'))];
    expect(report.extendedLocks).toBe(needed.length);
    for (const key of needed) expect((await s.worm.lockedUntil(key))!.getTime()).toBe(s.worm.now + 10 * DAY);
  });

  it('a target set to lock nothing is asked once, and nothing is extended', async () => {
    const s = await setup(undefined);
    await s.generation(0);
    const report = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [], now: new Date(s.worm.now + 2 * HOUR) });
    expect(report.extendedLocks).toBe(0);
    expect(s.worm.extendCalls).toBe(1);
  });

  it('retention keeps a format-2 snapshot whose object is locked, and says until when', async () => {
    const s = await setup(30);
    const ids = [await s.generation(0), await s.generation(1)];
    s.worm.now += 2 * HOUR;
    const report = await prune([{ job: 'app', storage: s.storage, policy: { keepLast: 1 } }], {
      now: new Date(s.worm.now),
      packs: { keyRing: async () => s.keyRing, writeOnly: false, jobs: ['app'] },
    });
    expect(report.errors).toEqual([]);
    const old = report.snapshots.find((d) => d.id === ids[0]);
    expect(old).toMatchObject({ action: 'keep', reasons: [`locked until ${new Date(s.worm.locks.get(`snapshots/app/${ids[0]}`)!).toISOString()}`] });
    expect(await keys(s.storage, 'snapshots/app/')).toHaveLength(2);
  });
});
