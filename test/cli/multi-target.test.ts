/** `failsafe backup` with several targets: per-target results, exit 4 when one failed. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

const plugin = join(import.meta.dirname, '..', 'fixtures', 'broken-target.js');

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => e.name);
}

describe('backup to several targets', () => {
  it('a dying target is reported and emptied, the healthy one holds the snapshot, exit 4', async () => {
    const d = await makeDeployment({
      extraYaml: `plugins: [${JSON.stringify(plugin)}]`,
      // The usb disk takes the segment, then dies before the manifest.
      targets: `targets:
  disk: { type: local, path: ./target }
  usb: { type: dying-disk, path: ./usb, failAfter: 1 }`,
      jobs: `jobs:
  app:
    sources: [ { type: directory, path: ./app/data } ]
    targets: [usb, disk]`,
    });
    const r = await runCli(['backup', '-c', d.config, '--json'], PASS);
    expect(r.code).toBe(4);
    const out = r.json();
    expect(out.snapshots.map((s: { target: string }) => s.target)).toEqual(['disk']);
    expect(out.failures).toEqual([expect.objectContaining({ job: 'app', target: 'usb', code: 'E_STORAGE' })]);
    expect(r.stderr).toMatch(/^error: job app, target usb: .*dying disk.* \[E_STORAGE\]$/m);
    expect(await files(join(d.root, 'usb'))).toEqual([]);

    const listed = await runCli(['list', '-c', d.config, '--json'], PASS);
    expect(listed.json().map((s: { target: string }) => s.target)).toEqual(['disk']);
    const restored = await runCli(['restore', 'latest', '-c', d.config, '--target', 'disk', '--to', join(d.root, 'out')], PASS);
    expect(restored.code).toBe(0);
  });
});
