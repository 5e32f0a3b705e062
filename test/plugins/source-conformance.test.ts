/** The built-in sources run the source conformance suite that plugin authors run. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SourcePlugin } from '../../core/contracts.js';
import { CommandSource } from '../../plugins/command/command.js';
import { ConfigFileSource } from '../../plugins/config-file/config-file.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { testSourcePlugin } from '../conformance/source.js';

const roots = new WeakMap<SourcePlugin, string>();
const destroy = async (source: SourcePlugin): Promise<void> => rm(roots.get(source)!, { recursive: true, force: true });

async function fixture(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-suite-'));
  await mkdir(join(root, 'tree', 'sub', 'deeper'), { recursive: true });
  await writeFile(join(root, 'tree', 'a.txt'), 'alpha');
  await writeFile(join(root, 'tree', 'sub', 'deeper', 'b.bin'), Buffer.alloc(2 * 1024 * 1024, 7));
  await writeFile(join(root, 'app.json'), '{"ok": true}');
  return root;
}

testSourcePlugin('directory', {
  create: async () => {
    const root = await fixture();
    const source = new DirectorySource({ path: join(root, 'tree') }, 'tree');
    roots.set(source, root);
    return source;
  },
  destroy,
});

testSourcePlugin('config-file', {
  create: async () => {
    const root = await fixture();
    const source = new ConfigFileSource({ path: join(root, 'app.json'), check: 'auto' }, 'config');
    roots.set(source, root);
    return source;
  },
  destroy,
});

testSourcePlugin('command', {
  create: async () => {
    const root = await fixture();
    const source = new CommandSource({ command: ['cat', join(root, 'tree', 'sub', 'deeper', 'b.bin')], tempDir: root }, 'dump');
    roots.set(source, root);
    return source;
  },
  destroy,
});
