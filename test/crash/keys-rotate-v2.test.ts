/**
 * The crash-point sweep of `keys rotate` over a format 2 repository: killed
 * with SIGKILL from outside after an object is sealed for both key sets,
 * after the config moves to the new set, and after an object loses its old
 * slots. Until the config moved, the old key set restores everything (and the
 * new one does not yet); after it, the new one does; either way the next
 * `keys rotate` completes and the old key set no longer opens anything
 * (docs/reliability.md).
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectEveryPoint, killAt, tracePoints } from '../helpers/pause.js';
import { rotationDeployment } from '../helpers/rotate-v2.js';

async function twoBackups(): Promise<Awaited<ReturnType<typeof rotationDeployment>>> {
  const made = await rotationDeployment();
  expect((await runCli(['backup', '-c', made.a])).code).toBe(0);
  await appendFile(join(made.d.data, 'README.md'), 'a second generation\n');
  expect((await runCli(['backup', '-c', made.a])).code).toBe(0);
  return made;
}

const verify = async (config: string): Promise<{ ok: boolean; errors: { code: string }[] }> =>
  (await runCli(['verify', '--all', '--read-data', '-c', config, '--json'])).json();

describe('keys rotate (format 2) killed at every crash point', () => {
  it('an uninterrupted rotation passes every point listed for it', { timeout: 120_000 }, async () => {
    const { d, b } = await twoBackups();
    const traced = await tracePoints(['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b], {});
    expect(traced.code, traced.stderr).toBe(0);
    expectEveryPoint('keys rotate (format 2)', traced.points);
  });

  for (const [point, moved] of [
    ['rotate-v2-added:1', false],
    ['rotate-v2-added:3', false],
    ['rotate-v2-config', true],
    ['rotate-v2-stripped:2', true],
  ] as const) {
    it(`killed at ${point}, one key set reads everything and the next rotate completes`, { timeout: 120_000 }, async () => {
      const { d, a, b } = await twoBackups();
      const rotate = ['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b, '--json'];
      await killAt(point, rotate, {});
      // Before the config moved the old keys read every snapshot; after it, the new ones do.
      expect(await verify(moved ? b : a)).toMatchObject({ ok: true, errors: [] });
      expect((await verify(moved ? a : b)).errors[0]?.code).toBe('E_WRONG_KEY');
      const next = await runCli(rotate);
      expect(next.code, next.stdout).toBe(0);
      expect(next.json().failures).toEqual([]);
      expect(await verify(b)).toMatchObject({ ok: true, errors: [] });
      expect((await verify(a)).errors[0]?.code).toBe('E_WRONG_KEY');
    });
  }
});
