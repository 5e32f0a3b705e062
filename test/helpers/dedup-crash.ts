/**
 * kill -9 at every durable step of a deduplicating backup and prune (format
 * v2), against any target (test/crash/dedup-*.test.ts): nothing referenced
 * is ever lost, no listed snapshot fails to restore, the next backup reuses
 * the packs a killed one stored, and the next prune finishes the work.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../api/builtins.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { Storage } from '../../core/repository/storage.js';
import { tree } from './tree.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'dedup-run.js');

/** A fresh, empty target, as the YAML's mapping (`{ type, ...options }`). */
export type DedupTarget = () => Promise<Record<string, unknown> & { type: string }>;

function run(args: string[], crash?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((done, fail) => {
    const env = { ...process.env, ...(crash ? { FAILSAFE_TEST_CRASH: crash } : {}) };
    const child = spawn(process.execPath, [FIXTURE, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout }));
  });
}

interface Setup {
  root: string;
  data: string;
  cache: string;
  spec: string;
}

async function setup(makeTarget: DedupTarget): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-crash-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  for (let i = 0; i < 6; i++) await writeFile(join(data, i % 2 ? 'sub' : '', `f${i}.bin`), randomBytes(120_000 + i * 10_000));
  return { root, data, cache: join(root, 'cache'), spec: JSON.stringify(await makeTarget()) };
}

/** Every snapshot the target lists restores to the data as it is now; resolves with how many there are. */
async function everySnapshotRestores(s: Setup): Promise<number> {
  const { type, ...options } = JSON.parse(s.spec) as { type: string };
  const factory = builtinRegistry().adapter(type);
  const storage = new Storage(factory.create(factory.optionsSchema.parse(options), 'target', { warn: () => undefined }), 'target');
  const expected = await tree(s.data);
  const keyRing = await KeyRing.create({ keyFileKey: Buffer.alloc(32, 5) });
  let count = 0;
  try {
    for await (const object of storage.list('snapshots/app/')) {
      const id = object.key.slice('snapshots/app/'.length);
      const to = join(s.root, `check-${randomBytes(4).toString('hex')}`);
      const plugins = new Map([['data', new DirectorySource({ path: s.data }, 'data')]]);
      await restoreDeduplicated({ storage, keyRing, job: 'app', id, plugins, destination: () => to });
      expect(await tree(to)).toEqual(expected);
      count++;
    }
  } finally {
    await storage.close();
  }
  return count;
}

export function describeDedupCrashes(name: string, makeTarget: DedupTarget): void {
  describe(`kill -9 of a deduplicating backup: ${name}`, () => {
    for (const point of ['pack-stored:1', 'pack-stored:4', 'index-stored:1', 'snapshot:1', 'snapshot-written:1']) {
      it(`at ${point}: no broken snapshot, and the next run completes reusing what was stored`, async () => {
        const s = await setup(makeTarget);
        expect((await run(['backup', s.spec, s.data, s.cache], point)).signal).toBe('SIGKILL');
        const listed = await everySnapshotRestores(s);
        expect(listed).toBe(point === 'snapshot-written:1' ? 1 : 0);
        const next = await run(['backup', s.spec, s.data, s.cache]);
        expect(next.code).toBe(0);
        const { stats } = JSON.parse(next.stdout) as { stats: { chunks: number; newChunks: number } };
        // The packs the killed run stored are read back from their own headers: their chunks are not stored again.
        if (point !== 'pack-stored:1') expect(stats.newChunks).toBeLessThan(stats.chunks);
        expect(await everySnapshotRestores(s)).toBe(listed + 1);
      });
    }
  });

  describe(`kill -9 of a deduplicating prune: ${name}`, () => {
    for (const point of ['prune-repacked:1', 'prune-index-written:1', 'prune-index-deleted:1', 'prune-pack-deleted:1']) {
      it(`at ${point}: what is kept still restores, and the next prune finishes the work`, async () => {
        const s = await setup(makeTarget);
        // Forgotten and kept small files side by side (one chunk each): every pack of the first backup holds both,
        // so prune must repack. With f0 alone changing, its chunks could fill whole packs of their own, which are
        // swept whole, and the rest of the unused bytes sat under the 5% repack threshold: no prune-repacked.
        for (let i = 0; i < 24; i++) await writeFile(join(s.data, 'sub', `kept-${i}.bin`), randomBytes(8_000));
        const ids: string[] = [];
        for (let gen = 0; gen < 3; gen++) {
          for (let i = 0; i < 24; i++) await writeFile(join(s.data, 'sub', `kept-${i}-changing.bin`), randomBytes(8_000));
          await writeFile(join(s.data, 'f0.bin'), randomBytes(200_000));
          ids.push((JSON.parse((await run(['backup', s.spec, s.data, s.cache])).stdout) as { id: string }).id);
        }
        expect((await run(['prune', s.spec, `app/${ids[0]},app/${ids[1]}`], point)).signal).toBe('SIGKILL');
        expect(await everySnapshotRestores(s)).toBe(1);
        expect((await run(['prune', s.spec, ''])).code).toBe(0);
        expect(await everySnapshotRestores(s)).toBe(1);
        expect((JSON.parse((await run(['prune', s.spec, ''])).stdout) as { removedPacks: number }).removedPacks).toBe(0);
      });
    }
  });
}
