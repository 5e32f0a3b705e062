/**
 * Where a worker thread's compiled entry file is. Run from dist/ it sits
 * beside the module that starts it; run from the TypeScript sources (the test
 * runner) it is the build's copy, which `npm test` makes first (pretest).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `name` (`./segment-worker.js`) next to the module at `from` (its `import.meta.url`). */
export function workerFile(name: string, from: string): URL {
  const here = new URL(name, from);
  if (from.endsWith('.js') && existsSync(fileURLToPath(here))) return here;
  const root = new URL('../../', import.meta.url);
  return new URL(`dist/${here.href.slice(root.href.length)}`, root);
}
