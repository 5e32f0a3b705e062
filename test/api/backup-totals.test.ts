/**
 * The totals of a backup's progress: a stat-only walk of real folders gives the files and bytes a backup reads
 * (hard links once for a deduplicating repository), a source with `prepare` joins the total as it is read, and
 * through the API a backup's last event of each run stands at its total.
 */
import { link, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/index.js';
import { watchTotals } from '../../api/operations/backup-totals.js';
import type { BackupProgress } from '../../core/backup/types.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { makeDeployment, PASS } from '../helpers/cli.js';

async function folder(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-totals-'));
  await mkdir(join(root, 'sub'));
  await writeFile(join(root, 'a'), Buffer.alloc(1000));
  await writeFile(join(root, 'sub', 'b'), Buffer.alloc(3000));
  await link(join(root, 'sub', 'b'), join(root, 'c'));
  return root;
}

const event = (p: Partial<BackupProgress>): BackupProgress => ({ job: 'app', targets: ['disk'], files: 0, bytesRead: 0, storedBytes: 0, segments: 0, ...p });

describe('the totals walk', () => {
  it('counts what a backup reads, without reading: hard links once when deduplicating', async () => {
    const root = await folder();
    for (const [hardLinks, files, bytes] of [
      [true, 3, 7000],
      [false, 2, 4000],
    ] as const) {
      const seen: BackupProgress[] = [];
      const watch = watchTotals([new DirectorySource({ path: root }, 'data')], (p) => seen.push(p), { hardLinks });
      watch.update(event({ files: 1, bytesRead: 1000, file: 'data/a' }));
      expect(await watch.walked).toBe(true);
      // The event before the walk ended comes again with the totals, so a display need not wait for the next one.
      expect(seen.map((p) => p.totalBytes)).toEqual([undefined, bytes]);
      watch.update(event({ files: 2, bytesRead: 4000, file: 'data/sub/b' }));
      expect(seen.at(-1)).toMatchObject({ totalFiles: files, totalBytes: bytes, bytesRead: 4000 });
      watch.stop();
    }
  });

  it("adds a prepared source's bytes as they are read, never shows more done than total, and ends a run at its total", async () => {
    const root = await folder();
    const prepared = Object.assign(new DirectorySource({ path: root }, 'db'), { prepare: () => Promise.resolve() });
    const seen: BackupProgress[] = [];
    const watch = watchTotals([new DirectorySource({ path: root }, 'data'), prepared], (p) => seen.push(p), { hardLinks: true });
    expect(await watch.walked).toBe(true);
    watch.update(event({ files: 3, bytesRead: 7000, file: 'data/c' }));
    expect(seen.at(-1)).toMatchObject({ totalBytes: 7000 });
    watch.update(event({ files: 4, bytesRead: 9000, file: 'db/x' }));
    expect(seen.at(-1)).toMatchObject({ totalFiles: 4, totalBytes: 9000 });
    // A file that grew after the walk: the total follows what was read.
    watch.update(event({ files: 5, bytesRead: 12_000, file: 'data/a' }));
    expect(seen.at(-1)).toMatchObject({ totalBytes: 12_000 });
    // The next target's run counts from zero again.
    watch.update(event({ targets: ['other'], files: 1, bytesRead: 1000, file: 'data/a' }));
    expect(seen.at(-1)).toMatchObject({ totalBytes: 7000 });
    watch.completed();
    expect(seen.at(-1)).toMatchObject({ bytesRead: 1000, totalBytes: 1000, totalFiles: 1 });
    watch.stop();
  });

  it('counts the sources it can walk when one is missing (the backup reports that one)', async () => {
    const seen: BackupProgress[] = [];
    const sources = [new DirectorySource({ path: join(tmpdir(), 'failsafe-no-such-folder') }, 'gone'), new DirectorySource({ path: await folder() }, 'data')];
    const watch = watchTotals(sources, (p) => seen.push(p), { hardLinks: true });
    expect(await watch.walked).toBe(true);
    watch.update(event({ files: 1, bytesRead: 1000, file: 'data/a' }));
    expect(seen.at(-1)).toMatchObject({ totalFiles: 3, totalBytes: 7000 });
  });

  it('stops with the backup: an aborted signal ends the walk without totals', async () => {
    const controller = new AbortController();
    controller.abort();
    const watch = watchTotals([new DirectorySource({ path: await folder() }, 'data')], () => undefined, { hardLinks: true, signal: controller.signal });
    expect(await watch.walked).toBe(false);
  });
});

describe('a backup through the API', () => {
  for (const [format, extraYaml] of [
    ['format 1', ''],
    ['format 2', 'repository: { format: 2 }'],
  ] as const) {
    it(`ends each run at its total, files a cache skipped counted as done (${format})`, async () => {
      const d = await makeDeployment({ extraYaml });
      const failsafe = await Failsafe.open(d.config, { env: PASS });
      try {
        for (const run of [1, 2]) {
          const events: BackupProgress[] = [];
          const outcome = await failsafe.backup([], { onProgress: (p) => events.push({ ...p }) });
          const snapshot = outcome.snapshots[0]!;
          expect(events.at(-1), `run ${run}`).toMatchObject({ bytesRead: snapshot.bytes, totalBytes: snapshot.bytes, totalFiles: snapshot.files });
          for (const e of events) if (e.totalBytes !== undefined) expect(e.bytesRead).toBeLessThanOrEqual(e.totalBytes);
        }
      } finally {
        await failsafe.close();
      }
    });
  }
});
