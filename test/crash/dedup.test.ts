/**
 * kill -9 at every durable step of a deduplicating backup and prune (format
 * v2), on a real local target: nothing referenced is ever lost, no listed
 * snapshot fails to restore, and the next run completes, reusing the packs
 * a killed backup stored.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { Storage } from '../../core/repository/storage.js';
import { tree } from '../helpers/tree.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'dedup-run.js');

function run(args: string[], crash?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [FIXTURE, ...args], {
      env: { ...process.env, ...(crash ? { FAILSAFE_TEST_CRASH: crash } : {}) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout }));
  });
}

async function setup(): Promise<{ root: string; data: string; target: string; cache: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-crash-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  for (let i = 0; i < 6; i++) await writeFile(join(data, i % 2 ? 'sub' : '', `f${i}.bin`), randomBytes(120_000 + i * 10_000));
  return { root, data, target: join(root, 'target'), cache: join(root, 'cache') };
}

/** Every snapshot the target lists restores to `expected` (or, with `any`, restores at all). */
async function everySnapshotRestores(s: Awaited<ReturnType<typeof setup>>, expected?: Record<string, string>): Promise<number> {
  const ids = await readdir(join(s.target, 'snapshots', 'app')).catch(() => [] as string[]);
  const storage = new Storage(new LocalAdapter({ path: s.target }), 'disk');
  const keyRing = await KeyRing.create({ keyFileKey: Buffer.alloc(32, 5) });
  for (const id of ids) {
    const to = join(s.root, `check-${id}-${randomBytes(3).toString('hex')}`);
    await restoreDeduplicated({
      storage,
      keyRing,
      codec: createSegmentCodec('zstd', 1),
      job: 'app',
      id,
      plugins: new Map([['data', new DirectorySource({ path: s.data }, 'data')]]),
      destination: () => to,
    });
    if (expected) expect(await tree(to)).toEqual(expected);
  }
  return ids.length;
}

describe('kill -9 of a deduplicating backup', () => {
  for (const point of ['pack-stored:1', 'pack-stored:4', 'index-stored:1', 'snapshot:1', 'snapshot-written:1']) {
    it(`at ${point}: no broken snapshot, and the next run completes reusing what was stored`, async () => {
      const s = await setup();
      const killed = await run(['backup', s.data, s.target, s.cache], point);
      expect(killed.signal).toBe('SIGKILL');
      const listed = await everySnapshotRestores(s, await tree(s.data));
      expect(listed).toBe(point === 'snapshot-written:1' ? 1 : 0);
      const next = await run(['backup', s.data, s.target, s.cache]);
      expect(next.code).toBe(0);
      const { stats } = JSON.parse(next.stdout) as { stats: { chunks: number; newChunks: number } };
      // The packs the killed run stored are read back from their own headers: those chunks are not stored again.
      if (point !== 'pack-stored:1') expect(stats.newChunks).toBeLessThan(stats.chunks);
      expect(await everySnapshotRestores(s, await tree(s.data))).toBe(listed + 1);
    });
  }
});

describe('kill -9 of a deduplicating prune', () => {
  for (const point of ['prune-index-written:1', 'prune-index-deleted:1', 'prune-pack-deleted:1']) {
    it(`at ${point}: what is kept still restores, and the next prune finishes the work`, async () => {
      const s = await setup();
      const ids: string[] = [];
      for (let gen = 0; gen < 3; gen++) {
        await writeFile(join(s.data, 'f0.bin'), randomBytes(200_000));
        ids.push((JSON.parse((await run(['backup', s.data, s.target, s.cache])).stdout) as { id: string }).id);
      }
      const expected = await tree(s.data);
      const forget = `app/${ids[0]},app/${ids[1]}`;
      const killed = await run(['prune', s.target, forget], point);
      expect(killed.signal).toBe('SIGKILL');
      expect(await everySnapshotRestores(s, expected)).toBe(1);
      const again = await run(['prune', s.target, '']);
      expect(again.code).toBe(0);
      expect(await everySnapshotRestores(s, expected)).toBe(1);
      const after = JSON.parse((await run(['prune', s.target, ''])).stdout) as { removedPacks: number };
      expect(after.removedPacks).toBe(0);
    });
  }
});
