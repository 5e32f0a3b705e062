/**
 * The byte-flip sweep: a tiny snapshot, in each format, and one bit flipped
 * at a time across every object the backup stored (manifests, segments;
 * config, index, packs, snapshot objects), every k-th byte so that each
 * format takes a bounded number of restores. Each flip must be either
 * refused with an integrity error (exit 3) or harmless (the restore gives
 * back exactly the original files): never a wrong restore that succeeds.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe, type ConfigObject } from '../../api/index.js';
import { asFailsafeError, exitCodeOf } from '../../core/errors.js';
import { tree } from '../helpers/tree.js';

/** Flips per format, at most: every k-th byte, k chosen from the objects' total size. */
const FLIPS = 96;

async function deployment(format: 1 | 2): Promise<{ root: string; failsafe: Failsafe; target: string; data: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-flip-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(join(data, 'a.txt'), 'hello, flipped world\n');
  await writeFile(join(data, 'b.bin'), randomBytes(3000));
  await writeFile(join(data, 'sub', 'c.txt'), 'c'.repeat(700));
  await writeFile(join(root, 'failsafe.key'), `${randomBytes(32).toString('base64')}\n`);
  const config: ConfigObject = {
    version: 1,
    targets: { disk: { type: 'local', path: './target' } },
    encryption: { keyFile: './failsafe.key' },
    ...(format === 2 ? { repository: { format: 2 } } : {}),
    jobs: { app: { sources: [{ type: 'directory', path: './data' }], targets: ['disk'] } },
  };
  return { root, data, target: join(root, 'target'), failsafe: await Failsafe.fromConfig(config, { baseDir: root }) };
}

/** Every object the backup stored, with its bytes. */
async function storedObjects(target: string): Promise<{ path: string; bytes: Buffer }[]> {
  const names = (await readdir(target, { recursive: true })).sort();
  const objects: { path: string; bytes: Buffer }[] = [];
  for (const name of names) {
    if (name.startsWith('locks') || name.startsWith('checkpoints')) continue;
    const bytes = await readFile(join(target, name)).catch(() => undefined);
    if (bytes) objects.push({ path: join(target, name), bytes });
  }
  return objects;
}

describe('the byte-flip sweep', () => {
  for (const format of [1, 2] as const) {
    it(`format ${format}: every flip is refused with exit 3 or restores exactly the original`, { timeout: 900_000 }, async () => {
      const { root, data, target, failsafe } = await deployment(format);
      try {
        const outcome = await failsafe.backup();
        expect(outcome.failures).toEqual([]);
        const id = outcome.snapshots[0]!.id;
        const original = await tree(data);
        const objects = await storedObjects(target);
        const total = objects.reduce((sum, o) => sum + o.bytes.length, 0);
        const step = Math.max(1, Math.ceil(total / FLIPS));
        const figures = { objects: objects.length, bytes: total, flips: 0, refused: 0, harmless: 0 };
        const wrong: string[] = [];
        let n = 0;
        for (const { path, bytes } of objects) {
          for (let at = (step - (n % step)) % step; at < bytes.length; at += step) {
            const flipped = Buffer.from(bytes);
            flipped[at] = flipped[at]! ^ 0x01;
            await writeFile(path, flipped);
            const to = join(root, `restored-${figures.flips}`);
            figures.flips++;
            try {
              await failsafe.restore(id, { to });
              if (JSON.stringify(await tree(join(to, 'data'))) === JSON.stringify(original)) figures.harmless++;
              else wrong.push(`${path.slice(target.length)} @${at}: restored different files with no error`);
            } catch (err) {
              if (exitCodeOf(err) === 3) figures.refused++;
              else wrong.push(`${path.slice(target.length)} @${at}: exit ${exitCodeOf(err)} ${asFailsafeError(err).code} ${(err as Error).message}`);
            } finally {
              await writeFile(path, bytes);
            }
          }
          n += bytes.length;
        }
        console.log(`byte-flip sweep, format ${format}: ${JSON.stringify(figures)}`);
        expect(wrong).toEqual([]);
        expect(figures.flips).toBeGreaterThan(FLIPS / 2);
        // The untouched snapshot still restores: the sweep put every byte back.
        await failsafe.restore(id, { to: join(root, 'restored-after') });
        expect(await tree(join(root, 'restored-after', 'data'))).toEqual(original);
      } finally {
        await failsafe.close();
      }
    });
  }
});
