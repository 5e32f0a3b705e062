/**
 * The globs of a directory source's `exclude` and `include` (and of `backup --exclude/--include`): a pattern
 * without `/` matches a base name at any depth; one with `/` matches the path inside the source.
 */
import { basename } from 'node:path';
import picomatch from 'picomatch';

export type PathMatcher = (relativePath: string) => boolean;

export function pathMatcher(patterns: readonly string[] | undefined): PathMatcher | undefined {
  if (!patterns || patterns.length === 0) return undefined;
  const byName = picomatch(
    patterns.filter((p) => !p.includes('/')),
    { dot: true },
  );
  const byPath = picomatch(
    patterns.filter((p) => p.includes('/')).map((p) => p.replace(/^\//, '')),
    { dot: true },
  );
  return (rel) => byName(basename(rel)) || byPath(rel);
}
