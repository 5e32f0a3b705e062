/**
 * The journaled swap over names that are not UTF-8 (carried as U+DC80–U+DCFF,
 * core/fs/name-bytes.ts): a rollback, whether of a failing swap or of one a
 * crash left for the next command, must put back the same bytes, and a commit
 * must remove the same bytes it moved aside.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeName, fsPath } from '../../core/fs/name-bytes.js';
import { recoverRestores, Swap, type Move } from '../../core/restore/swap.js';

/** A folder `d<0xff>` holding `f<0xfe>`, a file `x<0xfd>` with its companion `x<0xfd>-wal`: old live data and new staged data. */
async function setup(): Promise<{ root: string; journalDir: string; staging: string; moves: Move[] }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-swap-names-'));
  const staging = join(root, 'staging');
  for (const [base, age] of [
    [staging, 'new'],
    [root, 'old'],
  ] as const) {
    await mkdir(fsPath(join(base, 'd\udcff')), { recursive: true });
    await writeFile(fsPath(join(base, 'd\udcff', 'f\udcfe')), `${age} f`);
    await writeFile(fsPath(join(base, 'x\udcfd')), `${age} x`);
  }
  await writeFile(fsPath(join(root, 'x\udcfd-wal')), 'old wal');
  const moves: Move[] = [
    { from: join(staging, 'd\udcff'), to: join(root, 'd\udcff') },
    { from: join(staging, 'x\udcfd'), to: join(root, 'x\udcfd'), companions: [join(root, 'x\udcfd-wal')] },
  ];
  return { root, journalDir: `${root}-journal`, staging, moves };
}

const hex = (name: string): string => Buffer.from(fsPath(name)).toString('hex');
const STAGING = hex('staging');

/** Every name below `root` as its bytes (hex where not UTF-8, through decodeName's escapes), with the files' contents. */
async function byteTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const raw of (await readdir(fsPath(join(root, rel)), { encoding: 'buffer', withFileTypes: true })).sort((a, b) => Buffer.compare(a.name, b.name))) {
    const name = join(rel, decodeName(raw.name));
    const shown = hex(name);
    if (raw.isDirectory()) out.push(`${shown}/`, ...(await byteTree(root, name)));
    else out.push(`${shown}=${await readFile(fsPath(join(root, name)), 'utf8')}`);
  }
  return out;
}

const options = (journalDir: string, staging: string, keepPrevious = true) => ({ journalDir, snapshot: 'job/id', staging: [staging], keepPrevious });

describe('Swap over names that are not UTF-8', () => {
  it('a failing later move puts every earlier name back, byte for byte', async () => {
    const { root, journalDir, staging, moves } = await setup();
    const before = (await byteTree(root)).filter((n) => !n.startsWith(STAGING));
    const failing = [...moves, { from: join(staging, 'missing'), to: join(root, 'c') }];
    const err = await Swap.begin(failing, options(journalDir, staging)).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await byteTree(root)).toEqual(before);
    expect(await readdir(journalDir)).toEqual([]);
  });

  it('a swap a crash stopped half-way is rolled back by the next command to the same bytes', async () => {
    const { root, journalDir, staging, moves } = await setup();
    const before = (await byteTree(root)).filter((n) => !n.startsWith(STAGING));
    await Swap.begin(moves, options(journalDir, staging));
    // Rewind by hand to "x moved aside, staged x not renamed in": the state a crash between two renames leaves.
    await rename(fsPath(join(root, 'x\udcfd')), fsPath(join(staging, 'x\udcfd')));
    const [journal] = await readdir(journalDir);
    // The journal of a dead process: a pid that is not running.
    await rename(join(journalDir, journal!), join(journalDir, journal!.replace(/-\d+\.json$/, '-999999999.json')));
    const recovered = await recoverRestores(journalDir);
    expect(recovered.map((r) => r.outcome)).toEqual(['rolled-back']);
    expect(recovered[0]!.paths).toEqual([join(root, 'd\udcff'), join(root, 'x\udcfd')]);
    expect(await byteTree(root)).toEqual(before);
  });

  it('a commit without keepPrevious removes what it moved aside', async () => {
    const { root, journalDir, staging, moves } = await setup();
    const swap = await Swap.begin(moves, options(journalDir, staging, false));
    await swap.commit();
    expect(await byteTree(root)).toEqual([`${hex('d\udcff')}/`, `${hex('d\udcff/f\udcfe')}=new f`, `${hex('x\udcfd')}=new x`]);
  });
});
