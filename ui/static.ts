/**
 * The front-end: a few plain ES modules in ui/public (preact and htm, no
 * bundler, so nothing but tsc runs at build time), and the libraries
 * served from their installed packages. Only the files named here are
 * served: no path from the request ever reaches the file system.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Hono } from 'hono';

const here = import.meta.dirname;
/** ui/public beside the source, or beside the compiled dist/ui/ in the package. */
const PUBLIC = existsSync(join(here, 'public')) ? join(here, 'public') : join(here, '..', '..', 'ui', 'public');
const require = createRequire(import.meta.url);

/** Each package's folder, from its main entry (preact's and htm's exports do not all expose package.json). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(name)) {
    if (dirname(dir) === dir) throw new Error(`the installed package ${name} has no folder of its own`);
    dir = dirname(dir);
  }
  return dir;
}

const JS = 'text/javascript; charset=utf-8';
const FILES: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => join(PUBLIC, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: () => join(PUBLIC, 'app.js'), type: JS },
  '/views.js': { file: () => join(PUBLIC, 'views.js'), type: JS },
  '/tree.js': { file: () => join(PUBLIC, 'tree.js'), type: JS },
  '/find.js': { file: () => join(PUBLIC, 'find.js'), type: JS },
  '/api.js': { file: () => join(PUBLIC, 'api.js'), type: JS },
  '/restore.js': { file: () => join(PUBLIC, 'restore.js'), type: JS },
  '/run.js': { file: () => join(PUBLIC, 'run.js'), type: JS },
  '/charts.js': { file: () => join(PUBLIC, 'charts.js'), type: JS },
  '/use-api.js': { file: () => join(PUBLIC, 'use-api.js'), type: JS },
  '/identity.js': { file: () => join(PUBLIC, 'identity.js'), type: JS },
  '/style.css': { file: () => join(PUBLIC, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/preact.mjs': { file: () => join(packageDir('preact'), 'dist', 'preact.mjs'), type: JS },
  '/vendor/hooks.mjs': { file: () => join(packageDir('preact'), 'hooks', 'dist', 'hooks.mjs'), type: JS },
  '/vendor/htm.mjs': { file: () => join(packageDir('htm'), 'dist', 'htm.mjs'), type: JS },
  '/vendor/uplot.mjs': { file: () => join(packageDir('uplot'), 'dist', 'uPlot.esm.js'), type: JS },
  '/vendor/uplot.css': { file: () => join(packageDir('uplot'), 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * Each file is read once, when the server starts, and answered from memory
 * with its hash as ETag: a page loaded again gets "304 Not Modified" for
 * each, and no request waits for the disk.
 */
export async function registerStatic(app: Hono): Promise<void> {
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = new Uint8Array(await readFile(file()));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    app.get(path, (c) => {
      c.header('Cache-Control', 'no-cache');
      c.header('ETag', etag);
      if (c.req.header('if-none-match') === etag) return c.body(null, 304);
      c.header('Content-Type', type);
      return c.body(body);
    });
  }
}

/** CSP hashes of index.html's inline scripts (the import map), so that no other inline script runs. */
export async function scriptHashes(): Promise<string[]> {
  const html = await readFile(join(PUBLIC, 'index.html'), 'utf8');
  return [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
}
