/**
 * `failsafe dump`: a file's bytes or a folder as tar on stdout, reading only the part of the snapshot that holds
 * them: the proof is a target with the rest of the snapshot's objects deleted, from which the dump still works.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli, type Deployment } from '../helpers/cli.js';

async function untarPlain(bytes: Buffer): Promise<Map<string, { type: string; body: Buffer }>> {
  const entries = new Map<string, { type: string; body: Buffer }>();
  const reader = extract();
  Readable.from([bytes]).pipe(reader);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.set(entry.header.name, { type: entry.header.type ?? 'file', body: Buffer.concat(chunks) });
  }
  return entries;
}

const backup = async (d: Deployment): Promise<string> => {
  const r = await runCli(['backup', '-c', d.config, '--json'], PASS);
  expect(r.code, r.stderr).toBe(0);
  return r.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
};

/** Every object under `dir` of the target, relative to it. */
const objects = async (d: Deployment, dir: string): Promise<string[]> =>
  (await readdir(join(d.target, dir), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

for (const [format, extraYaml] of [
  ['format 1', 'segmentSize: 1MiB'],
  ['format 2', 'repository: { format: 2, packSize: 1MiB }'],
] as const) {
  describe(`failsafe dump (${format})`, () => {
    it('writes a file, a folder as tar, and says what is not there', async () => {
      const d = await makeDeployment({ extraYaml });
      const id = await backup(d);
      const readme = await runCli(['dump', id, 'data/README.txt', '-c', d.config], PASS);
      expect(readme.code, readme.stderr).toBe(0);
      expect(readme.stdoutBytes.equals(await readFile(join(d.data, 'README.txt')))).toBe(true);

      const folder = await runCli(['dump', 'latest', 'data/photos', '-c', d.config], PASS);
      expect(folder.code, folder.stderr).toBe(0);
      const entries = await untarPlain(folder.stdoutBytes);
      expect([...entries.keys()]).toContain('data/photos/2026/');
      const photo = entries.get('data/photos/2026/photo-2.jpg.b64');
      expect(photo?.body.equals(await readFile(join(d.data, 'photos/2026/photo-2.jpg.b64')))).toBe(true);
      expect([...entries.keys()].every((name) => name.startsWith('data/photos'))).toBe(true);

      const source = await runCli(['dump', id, 'config', '-c', d.config], PASS);
      expect((await untarPlain(source.stdoutBytes)).get('config/config.json')?.body.toString()).toBe(await readFile(d.appConfig, 'utf8'));

      const missing = await runCli(['dump', id, 'data/nothing.txt', '-c', d.config], PASS);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/nothing at "data\/nothing.txt" .*\[E_NOT_FOUND\]/);
      expect(missing.stdoutBytes.length).toBe(0);
      const noSnapshot = await runCli(['dump', 'ffffffff', 'data', '-c', d.config], PASS);
      expect(noSnapshot.code).toBe(1);
      expect(noSnapshot.stderr).toMatch(/E_SNAPSHOT_NOT_FOUND/);
      const json = await runCli(['dump', id, 'data', '--json', '-c', d.config], PASS);
      expect(json.code).toBe(2);
    });

    it('reads only the objects that hold the file', async () => {
      const d = await makeDeployment({ extraYaml });
      // 3 MiB that do not compress, sorted before the small file: in format 1 they fill the first segments.
      await writeFile(join(d.data, 'a-big.bin'), randomBytes(3 * 1024 * 1024));
      await writeFile(join(d.data, 'zz-small.txt'), 'first\n');
      const first = await backup(d);
      const before = new Set(format === 'format 2' ? await objects(d, 'packs') : []);
      await writeFile(join(d.data, 'zz-small.txt'), 'second\n');
      const id = await backup(d);
      if (format === 'format 1') {
        // The big file's segments, where the archive begins; the small file's header is in a later one.
        for (const index of ['00000000', '00000001']) await rm(join(d.target, 'data', 'app', id, index));
      } else {
        // The packs of the first backup: the big file's chunks (deduplicated since), none of the small file's new ones.
        for (const pack of before) await rm(pack);
      }
      const small = await runCli(['dump', id, 'data/zz-small.txt', '-c', d.config], PASS);
      expect(small.code, small.stderr).toBe(0);
      expect(small.stdout).toBe('second\n');
      // The same target cannot give the whole snapshot: what the dump did not read is really gone.
      const big = await runCli(['dump', id, 'data/a-big.bin', '-c', d.config], PASS);
      expect(big.code, big.stderr).not.toBe(0);
      expect(first).not.toBe(id);
    });
  });
}
