/** `failsafe ls`, `find` and `diff`, over format-1 and format-2 snapshots alike. */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

for (const [format, extraYaml] of [
  ['format 1', ''],
  ['format 2', 'repository: { format: 2 }'],
] as const) {
  describe(`browsing snapshots (${format})`, () => {
    it('lists a folder, finds a file across snapshots, and tells two snapshots apart', async () => {
      const d = await makeDeployment({ extraYaml });
      const backup = async (): Promise<string> => {
        const r = await runCli(['backup', '-c', d.config, '--json'], PASS);
        expect(r.code, r.stderr).toBe(0);
        return r.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
      };
      const first = await backup();
      await writeFile(join(d.data, 'readings.csv'), 'time,value\n1,2\n3,4\n');
      await writeFile(join(d.data, 'added.txt'), 'new\n');
      await rm(join(d.data, 'README.txt'));
      const second = await backup();

      const ls = await runCli(['ls', first, 'data/photos', '-c', d.config, '--json'], PASS);
      expect(ls.code, ls.stderr).toBe(0);
      const paths = ls.json<{ entries: { path: string }[] }>().entries.map((e) => e.path);
      expect(paths).toContain('photos/2026/photo-1.jpg.b64');
      expect(paths.every((p) => p.startsWith('photos'))).toBe(true);
      const long = await runCli(['ls', 'latest', 'data', '--long', '-c', d.config], PASS);
      expect(long.stdout).toMatch(/^-0644 .* data\/added\.txt$/m);
      expect(long.stdout).not.toMatch(/README\.txt/);
      const missing = await runCli(['ls', first, 'nothing/here', '-c', d.config], PASS);
      expect(missing.code).toBe(2);

      const found = await runCli(['find', 'README.txt', '-c', d.config, '--json'], PASS);
      expect(found.json<{ id: string; path: string }[]>().map((f) => [f.id, f.path])).toEqual([[first, 'README.txt']]);

      const diff = await runCli(['diff', first, second, '-c', d.config, '--json'], PASS);
      const changes = diff.json<Record<'added' | 'removed' | 'changed', { path: string }[]>>();
      expect(changes.added.map((e) => e.path)).toEqual(['added.txt']);
      expect(changes.removed.map((e) => e.path)).toEqual(['README.txt']);
      expect(changes.changed.map((e) => e.path)).toContain('readings.csv');
      expect(changes.changed.map((e) => e.path)).not.toContain('photos/2026/photo-1.jpg.b64');
      const human = await runCli(['diff', first, second, '-c', d.config], PASS);
      expect(human.stdout).toMatch(/^\+ data\/added\.txt /m);
      expect(human.stdout).toMatch(/1 added, 1 removed, \d+ changed/);
    });
  });
}
