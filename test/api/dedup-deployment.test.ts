/**
 * A deployment whose YAML says `repository: { format: 2 }`, driven through
 * the library API as the CLI drives it: backups deduplicate, `list` shows
 * them, `verify --read-data` reads every chunk and finds a damaged one, a
 * restore goes through the staged, journaled engine, and prune applies
 * retention and then sweeps and repacks the packs.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe, type ConfigObject } from '../../api/index.js';
import { tree } from '../helpers/tree.js';

/** Deterministic, half compressible bytes. */
function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let block = 0, at = 0; at < length; block++, at += 32) {
    const digest = createHash('sha256').update(`${seed}/${block}`).digest();
    (block % 2 === 0 ? Buffer.from(`line ${seed} ${block}\n`.padEnd(32, '.')) : digest).copy(out, at);
  }
  return out;
}

async function deployment(): Promise<{ root: string; failsafe: Failsafe }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-api-'));
  await mkdir(join(root, 'data', 'photos'), { recursive: true });
  await writeFile(join(root, 'data', 'photos', 'a.jpg'), bytes(3_000_000, 'a'));
  await writeFile(join(root, 'data', 'app.db'), bytes(2_000_000, 'db-0'));
  await writeFile(join(root, 'data', '.env'), 'SECRET=1\n');
  const config: ConfigObject = {
    version: 1,
    targets: { disk: { type: 'local', path: './backups' } },
    encryption: { passphrase: 'dedup secret' },
    repository: { format: 2, packSize: '1MiB' },
    jobs: { app: { sources: [{ type: 'directory', path: './data' }], targets: ['disk'], retention: { keepLast: 1 } } },
  };
  return { root, failsafe: await Failsafe.fromConfig(config, { baseDir: root }) };
}

async function packBytes(root: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(join(root, 'backups', 'packs'), { recursive: true })) {
    const info = await stat(join(root, 'backups', 'packs', name));
    if (info.isFile()) total += info.size;
  }
  return total;
}

describe('a deduplicating deployment (repository.format 2)', () => {
  it('backs up, lists, verifies, restores and prunes through the API', async () => {
    const { root, failsafe } = await deployment();
    try {
      const first = await failsafe.backup();
      expect(first.failures).toEqual([]);
      const second = await failsafe.backup();
      // Nothing changed: the second snapshot adds its own object and no pack.
      expect(second.snapshots[0]!.storedBytes).toBeLessThan(first.snapshots[0]!.storedBytes / 50);
      const listed = await failsafe.list();
      expect(listed.map((s) => [s.id, s.format])).toEqual([
        [second.snapshots[0]!.id, 2],
        [first.snapshots[0]!.id, 2],
      ]);
      expect(await failsafe.verify(undefined, { readData: true })).toMatchObject({ ok: true });

      const to = join(root, 'restored');
      const restored = await failsafe.restore(first.snapshots[0]!.id, { to });
      expect(restored.sources.map((s) => s.name)).toEqual(['data']);
      expect(await tree(join(to, 'data'))).toEqual(await tree(join(root, 'data')));

      // A new app.db each time: retention keeps the last snapshot, prune frees the old file's packs.
      await writeFile(join(root, 'data', 'app.db'), bytes(2_000_000, 'db-1'));
      const third = await failsafe.backup();
      const before = await packBytes(root);
      const report = await failsafe.prune({ now: new Date(Date.now() + 2 * 3_600_000) });
      expect(report.errors).toEqual([]);
      expect(report.snapshots.filter((d) => d.action === 'remove')).toHaveLength(2);
      const packs = report.packs['disk']!;
      expect(packs.removedPacks).toBeGreaterThan(0);
      expect(before - (await packBytes(root))).toBe(packs.removedBytes - packs.repackedBytes);
      // The old app.db compressed (about half of 2 MB) is gone.
      expect(before - (await packBytes(root))).toBeGreaterThan(700_000);
      expect((await failsafe.list()).map((s) => s.id)).toEqual([third.snapshots[0]!.id]);
      const again = join(root, 'restored-after-prune');
      await failsafe.restore('latest', { to: again });
      expect(await tree(join(again, 'data'))).toEqual(await tree(join(root, 'data')));
      expect(await failsafe.verify('latest', { readData: true })).toMatchObject({ ok: true });
    } finally {
      await failsafe.close();
    }
  });

  it('verify --read-data finds a damaged pack', async () => {
    const { root, failsafe } = await deployment();
    try {
      await failsafe.backup();
      const dir = join(root, 'backups', 'packs');
      const [name] = (await readdir(dir, { recursive: true })).filter((n) => n.length > 10);
      const file = join(dir, name!);
      const content = await readFile(file);
      content[100] = content[100]! ^ 0xff;
      await writeFile(file, content);
      const report = await failsafe.verify('latest', { readData: true });
      expect(report.ok).toBe(false);
      expect(report.errors[0]!.code).toMatch(/E_CHECKSUM|E_CORRUPT|E_WRONG_KEY/);
    } finally {
      await failsafe.close();
    }
  });
});
