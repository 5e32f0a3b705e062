/**
 * Custom plugins named in the YAML, end to end through the CLI: the example
 * source and adapter (which import only the `failsafe` package) back up and
 * restore; a plugin that cannot be used is one line naming it, exit 2.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'plugins');
const notesUrl = pathToFileURL(join(examples, 'notes-source.js')).href;

async function deployment(plugins: string[], extra: Record<string, string> = {}): Promise<{ root: string; config: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-plugins-'));
  await mkdir(join(root, 'notes'));
  await writeFile(join(root, 'notes', 'monday.md'), '# Monday\nwatered the basil\n');
  await writeFile(join(root, 'notes', 'tuesday.md'), '# Tuesday\nrepotted the mint\n');
  await writeFile(join(root, 'notes', 'scratch.txt'), 'not a note');
  for (const [name, text] of Object.entries(extra)) await writeFile(join(root, name), text);
  const config = join(root, 'failsafe.yaml');
  await writeFile(
    config,
    `version: 1
plugins: [${plugins.map((p) => JSON.stringify(p)).join(', ')}]
targets: { nas: { type: flat-folder, path: ./nas } }
encryption: none
jobs:
  notes: { sources: [{ type: notes, path: ./notes }], targets: [nas] }
`,
  );
  return { root, config };
}

describe('custom plugins from the YAML', () => {
  it('backs up and restores with a source and an adapter loaded from paths (relative and absolute)', async () => {
    // A plugin file of the deployment's own, beside the YAML, re-exporting the example source.
    const { root, config } = await deployment(['./my-notes.js', join(examples, 'flat-folder-adapter.js')], {
      'my-notes.js': `export { default } from ${JSON.stringify(notesUrl)};\n`,
    });
    const backup = await runCli(['backup', '-c', config, '--json']);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.json().snapshots[0]).toMatchObject({ job: 'notes', target: 'nas', files: 2 });
    expect((await readdir(join(root, 'nas'))).some((name) => name.startsWith('manifests%2Fnotes%2F'))).toBe(true);

    await writeFile(join(root, 'notes', 'monday.md'), 'overwritten by mistake');
    const restore = await runCli(['restore', 'latest', '--yes', '-c', config]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(await readFile(join(root, 'notes', 'monday.md'), 'utf8')).toBe('# Monday\nwatered the basil\n');
    expect((await readdir(join(root, 'notes'))).sort()).toEqual(['monday.md', 'tuesday.md']);
  });

  const cases: [string, (root: string) => Promise<string>, RegExp][] = [
    ['a missing file', async () => './nowhere.js', /^error: plugin \/.*\/nowhere\.js failed to load: Cannot find module .* \[E_PLUGIN_LOAD\]$/],
    [
      'a package that is not installed',
      async () => 'failsafe-plugin-nope',
      /^error: plugin failsafe-plugin-nope failed to load: Cannot find module 'failsafe-plugin-nope'.* \[E_PLUGIN_LOAD\]$/,
    ],
    [
      'a module that throws while loading',
      async (root) => (await writeFile(join(root, 'broken.js'), 'throw new Error("needs REDIS_URL");\n'), './broken.js'),
      /^error: plugin \/.*\/broken\.js failed to load: needs REDIS_URL \[E_PLUGIN_LOAD\]$/,
    ],
    [
      'a module that exports no factory',
      async (root) => (await writeFile(join(root, 'empty.js'), 'export const answer = 42;\n'), './empty.js'),
      /^error: plugin \/.*\/empty\.js exports no source or adapter \(use defineSource or defineAdapter\) \[E_PLUGIN_LOAD\]$/,
    ],
    [
      'a factory without a type',
      async (root) => (
        await writeFile(join(root, 'typeless.js'), `import notes from ${JSON.stringify(notesUrl)};\nexport default { ...notes, type: '' };\n`),
        './typeless.js'
      ),
      /^error: plugin \/.*\/typeless\.js has no type name \[E_PLUGIN_LOAD\]$/,
    ],
    [
      'a factory not built with defineSource',
      async (root) => (await writeFile(join(root, 'plain.js'), 'export default { type: "plain", create() {} };\n'), './plain.js'),
      /^error: plugin \/.*\/plain\.js exports a factory without a type: build it with defineSource or defineAdapter \[E_PLUGIN_LOAD\]$/,
    ],
    [
      'a type that clashes with a built-in',
      async (root) => (
        await writeFile(join(root, 'clash.js'), `import notes from ${JSON.stringify(notesUrl)};\nexport default { ...notes, type: 'directory' };\n`),
        './clash.js'
      ),
      /^error: plugin \/.*\/clash\.js: source type "directory" is already registered \[E_PLUGIN_LOAD\]$/,
    ],
  ];

  for (const [what, make, message] of cases) {
    it(`refuses ${what}: one line naming the plugin, exit 2, nothing written`, async () => {
      const { root, config } = await deployment([join(examples, 'flat-folder-adapter.js')]);
      const spec = await make(root);
      const yaml = await readFile(config, 'utf8');
      await writeFile(config, yaml.replace('plugins: [', `plugins: [${JSON.stringify(spec)}, `));
      for (const command of [['backup'], ['config', 'validate']]) {
        const r = await runCli([...command, '-c', config]);
        expect(r.code).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr.trim()).toMatch(message);
      }
      expect(await readdir(root)).not.toContain('nas');
      await rm(root, { recursive: true, force: true });
    });
  }
});
