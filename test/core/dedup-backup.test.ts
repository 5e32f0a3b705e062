/**
 * Backups into a deduplicating (v2) repository, end to end through a real
 * directory source and a real local folder: each generation restores
 * bit-identical, and a generation stores about what changed, not everything.
 */
import { createHash } from 'node:crypto';
import { appendFile, cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { pruneDeduplicated, type DedupPruneProgress } from '../../core/dedup/prune.js';
import { listSnapshotsV2 } from '../../core/dedup/list.js';
import { repositoryStats } from '../../core/dedup/stats.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { Storage } from '../../core/repository/storage.js';
import { tree } from '../helpers/tree.js';

const codec = createSegmentCodec('zstd', 1);
const KB = 1024;
/** Small chunks and packs, so a few MiB of test data exercise many of each. */
const SIZES = { min: 4 * KB, avg: 16 * KB, max: 64 * KB };

/** Deterministic bytes: a failure replays. Half text (compressible), half noise. */
function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let block = 0, at = 0; at < length; block++, at += 32) {
    const digest = createHash('sha256').update(`${seed}/${block}`).digest();
    (block % 2 === 0 ? Buffer.from(`line ${seed} ${block} ok\n`.padEnd(32, '.')) : digest).copy(out, at);
  }
  return out;
}

/** A small pseudo-random generator, seeded, for the edit sequences. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
}

async function setup(): Promise<{ root: string; data: string; storage: Storage; keyRing: KeyRing }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'photos', '2026'), { recursive: true });
  await writeFile(join(data, 'photos', '2026', 'a.jpg'), bytes(700 * KB, 'a'));
  await writeFile(join(data, 'photos', '2026', 'b.jpg'), bytes(300 * KB, 'b'));
  await writeFile(join(data, 'app.db'), bytes(1200 * KB, 'db'));
  await writeFile(join(data, 'empty'), '');
  await writeFile(join(data, '.env'), 'SECRET=1\n');
  await symlink('photos/2026/a.jpg', join(data, 'latest.jpg'));
  const storage = new Storage(new LocalAdapter({ path: join(root, 'target') }), 'disk');
  return { root, data, storage, keyRing: await KeyRing.create({ keyFileKey: Buffer.alloc(32, 9) }) };
}

async function backup(s: Awaited<ReturnType<typeof setup>>): Promise<Awaited<ReturnType<typeof backupDeduplicated>>> {
  return backupDeduplicated({
    job: 'app',
    sources: [new DirectorySource({ path: s.data }, 'data')],
    storage: s.storage,
    keyRing: s.keyRing,
    codec,
    sizes: SIZES,
    packSize: 256 * KB,
  });
}

async function restore(s: Awaited<ReturnType<typeof setup>>, id: string, to: string): Promise<void> {
  await restoreDeduplicated({
    storage: s.storage,
    keyRing: s.keyRing,
    job: 'app',
    id,
    plugins: new Map([['data', new DirectorySource({ path: s.data }, 'data')]]),
    destination: () => to,
  });
}

describe('deduplicating backups (format v2)', () => {
  it('restores a tree bit-identical; an unchanged second backup stores almost nothing', async () => {
    const s = await setup();
    const first = await backup(s);
    expect(first.stats.files).toBe(5);
    expect(first.stats.newChunks).toBeGreaterThan(50);
    const second = await backup(s);
    expect(second.stats.newChunks).toBe(0);
    expect(second.stats.chunks).toBe(first.stats.chunks);
    // Only the index-free remainder: the snapshot object itself, no pack.
    expect(second.stats.storedBytes).toBeLessThan(first.stats.storedBytes / 50);
    for (const snapshot of [first, second]) {
      const to = join(s.root, `restored-${snapshot.id}`);
      await restore(s, snapshot.id, to);
      expect(await tree(to)).toEqual(await tree(s.data));
    }
  });

  it('over generations of random edits, each generation restores bit-identical and stores about what changed', async () => {
    const s = await setup();
    const next = random(21);
    const generations: { id: string; tree: Record<string, string> }[] = [];
    let total = 0;
    for (let gen = 0; gen < 6; gen++) {
      if (gen > 0) await edit(s.data, gen, next);
      const { id, stats } = await backup(s);
      total += stats.storedBytes;
      if (gen > 0) expect(stats.newChunks, `generation ${gen}`).toBeLessThan(stats.chunks / 2);
      generations.push({ id, tree: await tree(s.data) });
    }
    for (const [gen, { id, tree: expected }] of generations.entries()) {
      const to = join(s.root, `gen-${gen}`);
      await restore(s, id, to);
      expect(await tree(to), `generation ${gen}`).toEqual(expected);
    }
    // Six generations of ~2.2 MB of data with small edits cost far less than six full copies.
    expect(total).toBeLessThan(3 * 2.2e6);
  });
});

/** One generation's edits: an insert in the middle of a large file, an append, a new file, a rename, a deletion. */
async function edit(data: string, gen: number, next: () => number): Promise<void> {
  const db = join(data, 'app.db');
  const old = await readFile(db);
  const at = Math.floor(next() * old.length);
  await writeFile(db, Buffer.concat([old.subarray(0, at), bytes(1 + Math.floor(next() * 5000), `insert-${gen}`), old.subarray(at)]));
  await appendFile(join(data, '.env'), `GEN=${gen}\n`);
  await writeFile(join(data, `new-${gen}.txt`), bytes(20 * KB + gen, `new-${gen}`));
  if (gen % 2 === 0) await rename(join(data, 'photos', '2026', 'b.jpg'), join(data, 'photos', `b-${gen}.jpg`)).catch(() => undefined);
  if (gen === 3) await rm(join(data, 'new-1.txt'));
  const mid = Math.floor(next() * (old.length - 2000));
  const rewritten = await readFile(db);
  bytes(1000, `overwrite-${gen}`).copy(rewritten, mid);
  await writeFile(db, rewritten);
}

describe('prune of a deduplicating repository', () => {
  it('forgetting old generations frees what only they used; what is kept still restores', async () => {
    const s = await setup();
    const ids: string[] = [];
    for (let gen = 0; gen < 3; gen++) {
      // Each generation replaces the large file: its old chunks are used by that generation alone.
      await writeFile(join(s.data, 'app.db'), bytes(1200 * KB, `db-${gen}`));
      ids.push((await backup(s)).id);
    }
    const sizeOf = async (): Promise<number> => {
      let total = 0;
      for await (const object of s.storage.list('packs/')) total += object.size;
      return total;
    };
    const before = await sizeOf();
    const later = new Date(Date.now() + 2 * 60 * 60 * 1000);
    const dry = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [`app/${ids[0]}`, `app/${ids[1]}`], now: later, dryRun: true });
    expect(await sizeOf()).toBe(before);
    const steps: DedupPruneProgress[] = [];
    const onProgress = (p: DedupPruneProgress): number => steps.push(p);
    const report = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [`app/${ids[0]}`, `app/${ids[1]}`], now: later, onProgress });
    // The kept snapshot read to mark what it uses, then each pack deleted with its bytes, up to the report's figures.
    expect(steps.filter((p) => p.step === 'mark')).toEqual([{ step: 'mark', done: 1, total: 1 }]);
    const deleted = steps.filter((p) => p.step === 'delete');
    expect(deleted.map((p) => p.done)).toEqual(deleted.map((_, i) => i + 1));
    expect(deleted.at(-1)).toMatchObject({
      done: report.removedPacks,
      total: report.removedPacks,
      bytes: report.removedBytes,
      totalBytes: report.removedBytes,
    });
    expect(report.forgotten.sort()).toEqual([`app/${ids[0]}`, `app/${ids[1]}`].sort());
    expect(report).toMatchObject({ removedPacks: dry.removedPacks, tooYoung: 0 });
    expect(report.removedPacks).toBeGreaterThan(0);
    const after = await sizeOf();
    expect(before - after).toBe(report.removedBytes - report.repackedBytes);
    // Packs that held both forgotten and kept chunks were repacked: what is left is about one fresh backup of the data.
    expect(report.repacked).toBeGreaterThan(0);
    const fresh = await setup();
    await rm(fresh.data, { recursive: true });
    await cp(s.data, fresh.data, { recursive: true, verbatimSymlinks: true });
    await backup(fresh);
    let freshSize = 0;
    for await (const object of fresh.storage.list('packs/')) freshSize += object.size;
    expect(after).toBeLessThan(freshSize * 1.1);
    const to = join(s.root, 'after-prune');
    await restore(s, ids[2]!, to);
    expect(await tree(to)).toEqual(await tree(s.data));
    // Again: nothing left to free, and the next backup still deduplicates against what is kept.
    expect((await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [], now: later })).removedPacks).toBe(0);
    expect((await backup(s)).stats.newChunks).toBe(0);
  });

  it('never sweeps a pack younger than the grace period, as a running backup may be about to name it', async () => {
    const s = await setup();
    const { id } = await backup(s);
    const report = await pruneDeduplicated({ storage: s.storage, keyRing: s.keyRing, forget: [`app/${id}`] });
    expect(report.removedPacks).toBe(0);
    expect(report.tooYoung).toBeGreaterThan(0);
    let packs = 0;
    for await (const _ of s.storage.list('packs/')) packs++;
    expect(packs).toBe(report.tooYoung);
  });
});

describe('stats of a deduplicating repository', () => {
  it('adds up what each backup added to the repository size, and gives the deduplication ratio, with no key', async () => {
    const s = await setup();
    const results = [];
    for (let gen = 0; gen < 3; gen++) {
      await writeFile(join(s.data, `gen-${gen}.txt`), bytes(40 * KB, `gen-${gen}`));
      results.push(await backup(s));
    }
    const stats = await repositoryStats(s.storage, await listSnapshotsV2(s.storage));
    expect(stats.snapshots.map((x) => x.id)).toEqual(results.map((r) => r.id));
    expect(stats.snapshots.map((x) => x.addedBytes)).toEqual(results.map((r) => r.stats.storedBytes));
    const config = (await s.storage.head('config'))!.size;
    expect(stats.storedBytes).toBe(results.reduce((n, r) => n + r.stats.storedBytes, 0) + config);
    expect(stats.logicalBytes).toBe(results.reduce((n, r) => n + r.stats.bytes, 0));
    // Three generations of nearly the same data: stored about once.
    expect(stats.ratio).toBeGreaterThan(2);
  });
});
