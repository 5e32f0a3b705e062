/**
 * `keys rotate` over a deduplicating (format 2) repository: the config, every
 * pack's trailer and every snapshot object get the new key set's slots (and
 * the new signing key's signature); the old key set stops opening it, data
 * bytes and chunk offsets stay as they were, and dedup goes on against the
 * old packs. The crash sweep is test/crash/keys-rotate-v2.test.ts.
 */
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { hashes } from '../helpers/keys.js';
import { rotationDeployment } from '../helpers/rotate-v2.js';
import { treeHash } from '../helpers/tree.js';

/** Every object under `packs/`, with its size. */
async function packSizes(target: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of await readdir(join(target, 'packs'), { recursive: true })) {
    const info = await stat(join(target, 'packs', name));
    if (info.isFile()) out[name] = info.size;
  }
  return out;
}

describe('keys rotate over a format 2 repository', () => {
  it('moves config, packs and snapshots to the new key set and signing key; old keys stop opening it; dedup goes on', async () => {
    const { d, a, b, sig } = await rotationDeployment();
    const backup = async (config: string): Promise<string> => {
      const run = await runCli(['backup', '-c', config, '--json']);
      expect(run.code, run.stderr).toBe(0);
      return run.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
    };
    const first = await backup(a);
    const firstTree = await treeHash(d.data);
    await appendFile(join(d.data, 'README.md'), 'a second generation\n');
    const second = await backup(a);
    const secondTree = await treeHash(d.data);
    const before = await hashes(d.target);
    const sizes = await packSizes(d.target);
    expect(Object.keys(sizes).length).toBeGreaterThanOrEqual(2);

    const rotate = ['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b, '--json'];
    const dry = await runCli([...rotate, '--dry-run']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, failures: [], repositories: [{ target: 'disk', config: true, snapshots: 2 }] });
    expect(await hashes(d.target)).toEqual(before);

    const done = await runCli(rotate);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const report = done.json<{ rotated: { id: string }[]; repositories: { packs: number; snapshots: number; config: boolean }[] }>();
    expect(report.repositories).toEqual([expect.objectContaining({ target: 'disk', config: true, packs: Object.keys(sizes).length, snapshots: 2 })]);
    expect(report.rotated.map((s) => s.id).sort()).toEqual([first, second].sort());
    // Only the trailers changed: same packs, each a few bytes longer or shorter at most, index objects untouched.
    const after = await hashes(d.target);
    expect(Object.keys(await packSizes(d.target))).toEqual(Object.keys(sizes));
    for (const [name, size] of Object.entries(await packSizes(d.target))) expect(Math.abs(size - sizes[name]!)).toBeLessThan(1024);
    const indexOf = (all: Record<string, string>): string[] =>
      Object.keys(all)
        .filter((k) => k.startsWith('index/'))
        .map((k) => `${k}=${all[k]}`);
    expect(indexOf(after)).toEqual(indexOf(before));
    expect(after['config']).not.toBe(before['config']);

    // B restores both generations bit-identical; A opens nothing any more.
    for (const [id, expected] of [
      [first, firstTree],
      [second, secondTree],
    ] as const) {
      const to = join(d.root, `restored-${id}`);
      const restored = await runCli(['restore', id, '--to', to, '-c', b]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(await treeHash(join(to, 'data'))).toBe(expected);
    }
    const byA = await runCli(['verify', '--all', '--read-data', '-c', a, '--json']);
    expect(byA.code).toBe(3);
    expect(byA.json().errors[0].code).toBe('E_WRONG_KEY');
    expect((await runCli(['verify', '--all', '--read-data', '-c', b, '--json'])).json()).toMatchObject({ ok: true, errors: [] });

    // Re-signed by B's signing key: trusted by a reader that trusts B alone.
    const onlyB = join(d.root, 'only-b.yaml');
    await writeFile(onlyB, (await readFile(b, 'utf8')).replace(`trust: [${sig.a}, ${sig.b}]`, `trust: [${sig.b}]`));
    const listed = await runCli(['list', '-c', onlyB, '--json']);
    expect(listed.json<{ signature: string }[]>().map((s) => s.signature)).toEqual(['trusted', 'trusted']);

    // A new backup with B deduplicates against the rotated packs: it adds at most a small pack (its tree).
    await backup(b);
    const added = Object.entries(await packSizes(d.target)).filter(([name]) => !(name in sizes));
    expect(added.length).toBeLessThanOrEqual(1);
    expect(added.reduce((n, [, size]) => n + size, 0)).toBeLessThan(16 * 1024);

    // Rotating again finds nothing to do and writes nothing.
    const settled = await hashes(d.target);
    const again = await runCli(rotate);
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().repositories).toEqual([expect.objectContaining({ config: false, packs: 0, snapshots: 0 })]);
    expect(await hashes(d.target)).toEqual(settled);
  });
});
