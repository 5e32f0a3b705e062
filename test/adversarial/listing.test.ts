/**
 * A damaged manifest header must not make its snapshot vanish: `list` names
 * it and exits 3, `verify --all` fails with exit 3 naming the object, while
 * the readable snapshots are still listed and checked.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { forgeSnapshot, ID } from './forge.js';

const DAMAGED = '20260102T000000Z-0d0d0d';

/** Ways a header is damaged in place: the object's bytes in, the damaged bytes out. */
const damages: [string, (bytes: Buffer) => Buffer][] = [
  ['a flipped byte in its JSON', (b) => Buffer.concat([b.subarray(0, 12), Buffer.from('X'), b.subarray(13)])],
  ['a header length past the object', (b) => Buffer.concat([b.subarray(0, 8), Buffer.from([0, 0, 0xff, 0xff]), b.subarray(12)])],
  ['a header length past the limit', (b) => Buffer.concat([b.subarray(0, 8), Buffer.from([0x7f, 0xff, 0xff, 0xff]), b.subarray(12)])],
  ['a header naming the other snapshot', (b) => Buffer.from(b.toString('latin1').replace(DAMAGED, ID), 'latin1')],
  ['no magic', (b) => Buffer.concat([Buffer.from('NOTMANIF'), b.subarray(8)])],
];

describe('a damaged manifest header', () => {
  it.each(damages)('%s: list names it and exits 3, verify --all exits 3 naming it', async (_what, damage) => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await forgeSnapshot(d.target, { entries: [{ path: 'a.txt' }] });
    const key = await forgeSnapshot(d.target, { id: DAMAGED, entries: [{ path: 'b.txt' }] });
    const path = join(d.target, key);
    await writeFile(path, damage(await readFile(path)));

    const list = await runCli(['list', '--json', '-c', d.config]);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(key);
    expect(list.json().map((s: { id: string }) => s.id)).toEqual([ID]);

    const verify = await runCli(['verify', '--all', '--json', '-c', d.config]);
    expect(verify.code).toBe(3);
    const errors = verify.json().errors as { object?: string; code: string; id: string }[];
    expect(errors).toEqual([expect.objectContaining({ object: key, id: DAMAGED, code: 'E_CORRUPT' })]);
  });

  it('an undamaged target lists and verifies with exit 0: the failures above are the damage', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await forgeSnapshot(d.target, { entries: [{ path: 'a.txt' }] });
    await forgeSnapshot(d.target, { id: DAMAGED, entries: [{ path: 'b.txt' }] });
    expect((await runCli(['list', '-c', d.config])).code).toBe(0);
    expect((await runCli(['verify', '--all', '-c', d.config])).code).toBe(0);
  });
});
