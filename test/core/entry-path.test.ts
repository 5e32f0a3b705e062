/**
 * A manifest entry's path (assertEntryPath, core/format/manifest-schema.ts)
 * walks its segments without splitting it; here it is held to the plain
 * split on every path of up to three segments made of the shapes that
 * matter (empty, `.`, `..`, and names that only look like them).
 */
import { describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import { assertEntryPath } from '../../core/format/manifest-schema.js';

/** The rule as first written: the first segment that is `..`, or empty or `.`. */
function bySplit(path: string): string {
  if (path === '') return 'is empty';
  if (path.startsWith('/')) return 'is absolute';
  for (const part of path.split('/')) {
    if (part === '..') return 'contains ..';
    if (part === '' || part === '.') return 'is not normalized';
  }
  return 'ok';
}

function answer(path: string): string {
  try {
    assertEntryPath(path, 't:m');
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).code).toBe('E_UNSAFE_PATH');
    return (err as Error).message.slice((err as Error).message.lastIndexOf(': ') + 2);
  }
}

describe('an entry path', () => {
  it('is refused for its first bad segment, as splitting it says', () => {
    const parts = ['', '.', '..', '...', '.a', 'a.', '..a', 'a..', 'a', 'ab'];
    const paths = new Set<string>();
    for (const a of parts) {
      paths.add(a);
      for (const b of parts) {
        paths.add(`${a}/${b}`);
        for (const c of parts) paths.add(`${a}/${b}/${c}`);
      }
    }
    const answers = new Set<string>();
    for (const path of paths) {
      expect(answer(path), path).toBe(bySplit(path));
      answers.add(bySplit(path));
    }
    expect([...answers].sort()).toEqual(['contains ..', 'is absolute', 'is empty', 'is not normalized', 'ok']);
  });
});
