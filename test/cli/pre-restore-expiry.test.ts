/**
 * `restore.keepPrevious`: the `.pre-restore-<stamp>` copies an in-place
 * restore leaves beside the live data expire by the stamp in their name.
 * `recover --list` and `prune --dry-run` name the expired ones, `prune` and
 * the next restore remove them; a younger copy, a name the swap does not make
 * and every copy of a job without the setting stay. No sleeping: the copies
 * are planted with stamps in the past.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreStamp } from '../../core/restore/journal.js';
import { APP_JOBS, makeDeployment, runCli, type Deployment } from '../helpers/cli.js';

const DAY = 86_400_000;
const stampAgo = (days: number): string => restoreStamp(new Date(Date.now() - days * DAY));
const OLD = stampAgo(10);
const YOUNG = stampAgo(6);
/** Expired: the data folder's and the config file's copies from ten days ago. */
const EXPIRED = [`config.json.pre-restore-${OLD}`, `data.pre-restore-${OLD}`];
/** Kept whatever their age: younger than 7 days, not a stamp, a stamp no clock shows, another file's name, an extra suffix. */
const KEPT = [
  `data.pre-restore-${YOUNG}`,
  'data.pre-restore-foo',
  'data.pre-restore-20261399T000000Z',
  `notes.pre-restore-${OLD}`,
  `data.pre-restore-${OLD}.bak`,
];

async function deployment(keepPrevious: string | undefined): Promise<Deployment> {
  const jobs = keepPrevious ? `${APP_JOBS}\n    restore: { keepPrevious: ${keepPrevious} }` : APP_JOBS;
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }', jobs });
  await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
  return d;
}

async function plant(d: Deployment): Promise<void> {
  for (const name of [...EXPIRED, ...KEPT]) {
    if (name.startsWith('config.json')) await writeFile(join(d.root, 'app', name), '{"port": 80}');
    else {
      await mkdir(join(d.root, 'app', name, 'sub'), { recursive: true });
      await writeFile(join(d.root, 'app', name, 'sub', 'old.txt'), 'replaced data');
    }
  }
}

const copies = async (d: Deployment): Promise<string[]> => (await readdir(join(d.root, 'app'))).filter((n) => n.includes('.pre-restore-')).sort();

describe('restore.keepPrevious', () => {
  it('recover --list and prune --dry-run name the expired copies; prune removes only them', async () => {
    const d = await deployment('7d');
    await plant(d);
    const listed = await runCli(['recover', '--list', '-c', d.config]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual(
      EXPIRED.map((n) =>
        expect.stringMatching(
          new RegExp(
            `^${join(d.root, 'app', n).replace(/\./g, '\\.')}, .* older than job app's restore\\.keepPrevious \\(7d\\): the next restore or prune removes it$`,
          ),
        ),
      ),
    );
    const json = (await runCli(['recover', '--list', '-c', d.config, '--json'])).json();
    expect(json.map((c: { kind: string; path: string }) => [c.kind, c.path])).toEqual(EXPIRED.map((n) => ['previous-copy', join(d.root, 'app', n)]));

    const dry = await runCli(['prune', '--dry-run', '-c', d.config]);
    expect(dry.code).toBe(0);
    for (const n of EXPIRED) expect(dry.stdout).toContain(`would remove ${join(d.root, 'app', n)}: replaced by a restore on `);
    expect(await copies(d)).toEqual([...EXPIRED, ...KEPT].sort());

    const pruned = await runCli(['prune', '-c', d.config, '--json']);
    expect(pruned.code).toBe(0);
    expect(pruned.json().previousCopies.map((c: { path: string }) => c.path)).toEqual(EXPIRED.map((n) => join(d.root, 'app', n)));
    expect(await copies(d)).toEqual([...KEPT].sort());
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
  });

  it('the next restore removes the expired copies and keeps the one it makes', async () => {
    const d = await deployment('7d');
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    await plant(d);
    const restored = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '-c', d.config]);
    expect(restored.code).toBe(0);
    for (const n of EXPIRED) expect(restored.stdout).toContain(`removed ${join(d.root, 'app', n)}: older than job app's restore.keepPrevious`);
    const left = await copies(d);
    expect(left.filter((n) => !KEPT.includes(n))).toEqual([
      expect.stringMatching(/^config\.json\.pre-restore-\d{8}T\d{6}Z$/),
      expect.stringMatching(/^data\.pre-restore-\d{8}T\d{6}Z$/),
    ]);
    expect(left.filter((n) => KEPT.includes(n))).toEqual([...KEPT].sort());
  });

  it('a partial restore (--path) deep inside a source is recorded, and its copies there expire too', async () => {
    const d = await deployment('7d');
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    const partial = await runCli(['restore', 'latest', '--yes', '--no-safety-snapshot', '--source', 'data', '--path', 'photos', '-c', d.config]);
    expect(partial.code, partial.stderr).toBe(0);
    const deep = async (): Promise<string[]> => (await readdir(join(d.data))).filter((n) => n.includes('.pre-restore-')).sort();
    const [fresh] = await deep();
    expect(fresh).toMatch(/^photos\.pre-restore-\d{8}T\d{6}Z$/);
    // An older copy beside it, as an earlier partial restore would have left it.
    const old = `photos.pre-restore-${OLD}`;
    await mkdir(join(d.data, old));
    const listed = (await runCli(['recover', '--list', '-c', d.config, '--json'])).json();
    expect(listed.map((c: { path: string }) => c.path)).toEqual([join(d.data, old)]);
    expect((await runCli(['prune', '-c', d.config])).code).toBe(0);
    expect(await deep()).toEqual([fresh]);
  });

  it('without the setting every copy is kept, as before', async () => {
    const d = await deployment(undefined);
    await plant(d);
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
    expect((await runCli(['prune', '-c', d.config])).code).toBe(0);
    expect(await copies(d)).toEqual([...EXPIRED, ...KEPT].sort());
  });

  it('refuses an age that is not a fixed duration', async () => {
    const d = await deployment('6m');
    const r = await runCli(['config', 'validate', '-c', d.config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/jobs\.app\.restore\.keepPrevious.*expected a duration in weeks, days or hours/);
  });
});
