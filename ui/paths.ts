/** Paths as the page names them: `<source>/<path inside it>`, what a restore's `--source` and `--path` take. */
import { FailsafeError } from '../core/errors.js';

/** `inside` is '' for a whole source, where `sourceAlone` allows one. */
export function splitPath(full: string, options: { sourceAlone?: boolean } = {}): { source: string; inside: string } {
  const [source, ...rest] = full.replace(/^\/+|\/+$/g, '').split('/');
  if (!source || (rest.length === 0 && !options.sourceAlone) || rest.includes('..') || rest.includes('.')) {
    throw new FailsafeError('E_USAGE', `"${full}" is not <source>/<path> inside a snapshot`);
  }
  return { source, inside: rest.join('/') };
}

/** A path as a glob that matches only itself (and, for a folder, what it holds: restore's `--path` does that). */
export const literalGlob = (path: string): string => path.replace(/[\\*?[\]{}()!+@]/g, '\\$&');

/** The restore options that pick one path of a snapshot (nothing picks the whole snapshot). */
export function pick(path: unknown): { sources?: string[]; paths?: string[] } {
  if (typeof path !== 'string' || path === '') return {};
  const { source, inside } = splitPath(path, { sourceAlone: true });
  return { sources: [source], ...(inside ? { paths: [literalGlob(inside)] } : {}) };
}
