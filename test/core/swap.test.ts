/** The journaled swap on its own: all moves or none, whatever fails and wherever a crash stops it. */
import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoverRestores, Swap } from '../../core/restore/swap.js';

async function setup(): Promise<{ root: string; journalDir: string; staging: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-swap-'));
  const staging = join(root, 'staging');
  await mkdir(join(staging, 'a'), { recursive: true });
  await writeFile(join(staging, 'a', 'f'), 'new a');
  await writeFile(join(staging, 'b'), 'new b');
  await mkdir(join(root, 'a'));
  await writeFile(join(root, 'a', 'f'), 'old a');
  await writeFile(join(root, 'b'), 'old b');
  await writeFile(join(root, 'b-wal'), 'old wal');
  return { root, journalDir: `${root}-journal`, staging };
}

const state = async (root: string): Promise<string> =>
  `${await readFile(join(root, 'a', 'f'), 'utf8')} | ${await readFile(join(root, 'b'), 'utf8')} | ${(await readdir(root)).sort().join(',')}`;

describe('Swap', () => {
  it('a failing later move undoes the earlier ones and the companions', async () => {
    const { root, journalDir, staging } = await setup();
    const before = await state(root);
    const moves = [
      { from: join(staging, 'a'), to: join(root, 'a') },
      { from: join(staging, 'b'), to: join(root, 'b'), companions: [join(root, 'b-wal')] },
      { from: join(staging, 'missing'), to: join(root, 'c') },
    ];
    const err = await Swap.begin(moves, { journalDir, snapshot: 'job/id', staging: [staging], keepPrevious: true }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await state(root)).toBe(before.replace(',staging', ''));
    expect(await readdir(journalDir)).toEqual([]);
  });

  it('commit keeps the old data aside, or removes it without keepPrevious', async () => {
    for (const keepPrevious of [true, false]) {
      const { root, journalDir, staging } = await setup();
      const moves = [
        { from: join(staging, 'a'), to: join(root, 'a') },
        { from: join(staging, 'b'), to: join(root, 'b'), companions: [join(root, 'b-wal')] },
      ];
      const swap = await Swap.begin(moves, { journalDir, snapshot: 'job/id', staging: [staging], keepPrevious });
      await swap.commit();
      expect(await readFile(join(root, 'b'), 'utf8')).toBe('new b');
      const previous = swap.previousOf([join(root, 'b')]);
      expect(previous.map((p) => p.slice(root.length + 1).replace(/\d{8}T\d{6}Z/, 'T'))).toEqual(
        keepPrevious ? ['b.pre-restore-T', 'b-wal.pre-restore-T'] : [],
      );
      expect((await readdir(root)).filter((n) => n.includes('pre-restore')).length).toBe(keepPrevious ? 3 : 0);
      expect(await readdir(journalDir)).toEqual([]);
    }
  });

  it('recovery rolls back from any point the filesystem shows: live moved aside but staged not yet in', async () => {
    const { root, journalDir, staging } = await setup();
    const before = await state(root);
    const moves = [
      { from: join(staging, 'a'), to: join(root, 'a') },
      { from: join(staging, 'b'), to: join(root, 'b'), companions: [join(root, 'b-wal')] },
    ];
    const swap = await Swap.begin(moves, { journalDir, snapshot: 'job/id', staging: [staging], keepPrevious: true });
    // Rewind by hand to "b moved aside, staged b not renamed in" — the state a crash between two renames leaves.
    const asideB = (await readdir(root)).find((n) => n.startsWith('b.pre-restore-'))!;
    await rename(join(root, 'b'), join(staging, 'b'));
    const [journal] = await readdir(journalDir);
    // The journal of a dead process: rename it to a pid that is not running.
    await rename(join(journalDir, journal!), join(journalDir, journal!.replace(/-\d+\.json$/, '-999999999.json')));
    void swap;
    expect(await readdir(root)).toContain(asideB);
    const recovered = await recoverRestores(journalDir);
    expect(recovered.map((r) => r.outcome)).toEqual(['rolled-back']);
    expect(await state(root)).toBe(before.replace(',staging', ''));
  });
});
