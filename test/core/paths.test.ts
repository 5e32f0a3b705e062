import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFailsafeError } from '../../core/errors.js';
import { safeJoin } from '../../core/fs/paths.js';

const unsafe = (root: string, path: string): boolean => {
  try {
    safeJoin(root, path);
    return false;
  } catch (err) {
    return isFailsafeError(err, 'E_UNSAFE_PATH');
  }
};

describe('safeJoin', () => {
  it('joins normalised archive paths under absolute, relative and trailing-slash roots, as path.join does', () => {
    for (const root of ['/srv/restore', '/srv/restore/', '/', '.', 'out', 'out/', '../elsewhere', 'a/../b']) {
      for (const path of ['f', 'd/e/f', './d//e/./f', 'd\\e', '.']) {
        const target = safeJoin(root, path);
        expect(target).toBe(join(root, ...path.split('/').filter((p) => p !== '' && p !== '.')));
        // Inside the root, by the slow check the fast one replaced.
        const rel = relative(resolve(root), resolve(target));
        expect(rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..')).toBe(true);
      }
    }
  });

  it('refuses .., absolute paths, NUL bytes and surrogates that stand for no byte under every kind of root', () => {
    for (const root of ['/srv/restore', '/', '.', 'out/']) {
      for (const path of ['../x', 'a/../../x', '..', '/etc/passwd', 'a\0b', 'a\udc2f..\udc2fx', '\ud800']) expect(unsafe(root, path)).toBe(true);
    }
  });

  it('keeps a backslash, a drive-like prefix and non-UTF-8 bytes as parts of a name (POSIX names are bytes)', () => {
    expect(safeJoin('/r', 'd\\e')).toBe('/r/d\\e');
    expect(safeJoin('/r', 'C:\\x')).toBe('/r/C:\\x');
    expect(safeJoin('/r', 'a/\udcff')).toBe('/r/a/\udcff');
  });
});
