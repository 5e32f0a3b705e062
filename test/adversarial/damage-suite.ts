/**
 * The damage sweep's test (sweep.ts), one file per format so that the two
 * run side by side: bit flips and truncations of every object of a tiny
 * snapshot, each refused with exit 3: never a wrong restore, nor damage that
 * passes unseen because the restore happens not to need the byte, and
 * nothing written around the destination.
 *
 * By default about SAMPLED flips and as many cuts per object, at every k-th
 * byte (k from the object's size; the cut to nothing and the cut of the last
 * byte always): about 190 restores for format 1, 380-470 for format 2.
 * With FAILSAFE_SWEEP=full, every byte and every length of every object
 * (docs/security.md has the figures and the command).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tree } from '../helpers/tree.js';
import { allTrials, runTrials, sampledTrials, tinySnapshot, type Sweep, type SweepKeys } from './sweep.js';

const FULL = process.env.FAILSAFE_SWEEP === 'full';
const SAMPLED = 48;

export function damageSweep(format: 1 | 2, keys: SweepKeys = 'key-file'): void {
  describe(`the damage sweep, format ${format}, ${keys}`, () => {
    let sweep: Sweep;
    beforeAll(async () => {
      sweep = await tinySnapshot(format, keys);
    });
    afterAll(() => sweep?.close());

    it('every flip and cut is refused with exit 3', { timeout: 7_200_000 }, async () => {
      const started = Date.now();
      const trials = FULL ? allTrials(sweep.objects) : sampledTrials(sweep.objects, SAMPLED);
      const { kinds, codes, harmless, spareSlot, wrong } = await runTrials(sweep, trials);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const figures = JSON.stringify({ kinds, codes });
      console.log(`damage sweep, format ${format}, ${keys}${FULL ? ', full' : ''}, ${trials.length} restores in ${seconds} s: ${figures}`);
      if (harmless.length > 0) console.log(`harmless, format ${format}, ${keys}: ${harmless.join('; ')}`);
      if (spareSlot.length > 0) console.log(`opened by another slot, format ${format}, ${keys}: ${spareSlot.join('; ')}`);
      expect(wrong).toEqual([]);
      expect(harmless).toEqual([]);
      expect(Object.values(kinds).reduce((sum, f) => sum + f.refused + f.harmless, 0)).toBe(trials.length);
      // Only an object sealed for two secrets has a spare slot: a key file's sweep has none.
      if (keys === 'key-file') expect(spareSlot).toEqual([]);
      // The snapshot itself is untouched: the sweep put every byte back.
      await sweep.failsafe.restore(sweep.id, { to: join(sweep.home, 'after') });
      expect(await tree(join(sweep.home, 'after', 'd'))).toEqual(sweep.original);
    });
  });
}
