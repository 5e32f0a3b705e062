/**
 * The plugin SDK as an outside author uses it: the example adapter and source
 * under examples/plugins import only the `failsafe` package, and the adapter
 * runs the published `failsafe/test-suite`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { testSourcePlugin, testStorageAdapter } from 'failsafe/test-suite';
import type { AdapterFactory, SourceFactory, SourcePlugin, StorageAdapter } from 'failsafe';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'plugins');
const adapterModule = (await import(pathToFileURL(join(examples, 'flat-folder-adapter.js')).href)) as {
  default: AdapterFactory<{ path: string }>;
};
const roots = new WeakMap<StorageAdapter, string>();

testStorageAdapter('flat-folder (examples/plugins)', {
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-flat-'));
    const adapter = adapterModule.default.create({ path: join(root, 'store') }, 'example');
    roots.set(adapter, root);
    return adapter;
  },
  reopen: async (adapter) => adapterModule.default.create({ path: join(roots.get(adapter)!, 'store') }, 'example'),
  destroy: async (adapter) => rm(roots.get(adapter)!, { recursive: true, force: true }),
  largeSize: 16 * 1024 * 1024,
});

const notesModule = (await import(pathToFileURL(join(examples, 'notes-source.js')).href)) as { default: SourceFactory<{ path: string }> };
const notesDirs = new WeakMap<SourcePlugin, string>();

testSourcePlugin('notes (examples/plugins)', {
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-notes-'));
    await writeFile(join(dir, 'monday.md'), '# Monday\n');
    await writeFile(join(dir, 'big.md'), Buffer.alloc(3 * 1024 * 1024, 'x'));
    const source = notesModule.default.create({ path: dir }, 'notes');
    notesDirs.set(source, dir);
    return source;
  },
  destroy: async (source) => rm(notesDirs.get(source)!, { recursive: true, force: true }),
});
