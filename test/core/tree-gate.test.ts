/**
 * A v2 tree read back (core/dedup/tree.ts) is untrusted: odd names and hard
 * links pass only in the forms a backup writes them.
 */
import { describe, expect, it } from 'vitest';
import { decodeTree, encodeTreeLine, type TreeEntry } from '../../core/dedup/tree.js';
import { FailsafeError } from '../../core/errors.js';

const base = { source: 'data', size: 0, mode: 0o644, mtime: '2026-01-01T00:00:00.000Z' };
const file = (path: string, extra: Partial<TreeEntry> = {}): TreeEntry => ({ ...base, path, type: 'file', chunks: [], ...extra });
const text = (entries: TreeEntry[]): string => entries.map(encodeTreeLine).join('');

function refusal(entries: TreeEntry[]): FailsafeError {
  try {
    decodeTree(text(entries), 't:snapshots/app/x');
  } catch (err) {
    expect(err).toBeInstanceOf(FailsafeError);
    return err as FailsafeError;
  }
  throw new Error('the tree decoded');
}

describe('a tree with odd names and hard links', () => {
  it('keeps names that are not UTF-8, backslashes, hard links and sparse marks as written', () => {
    const written = [
      file('caf\udce9'),
      file('back\\slash', { hardLink: 'caf\udce9' }),
      { ...base, path: 'l', type: 'symlink' as const, linkTarget: '\udcff' },
      file('holes', { sparse: true }),
    ];
    const read = decodeTree(text(written), 'tree');
    expect(read.map((e) => [e.path, e.hardLink, e.linkTarget, e.sparse])).toEqual([
      ['caf\udce9', undefined, undefined, undefined],
      ['back\\slash', 'caf\udce9', undefined, undefined],
      ['l', undefined, '\udcff', undefined],
      ['holes', undefined, undefined, true],
    ]);
  });

  it.each([
    ['a path escaping "/"', [file('a\udc2f..\udc2fb')]],
    ['a path with a surrogate for no byte', [file('\ud800')]],
    ['a link target with a surrogate for no byte', [{ ...base, path: 'l', type: 'symlink' as const, linkTarget: '\udc00' }]],
    ['a hard link to a later file', [file('a', { hardLink: 'b' }), file('b')]],
    ['a hard link to a folder', [{ ...base, path: 'd', type: 'directory' as const }, file('a', { hardLink: 'd' })]],
    ['a hard link to itself', [file('a', { hardLink: 'a' })]],
  ] as [string, TreeEntry[]][])('%s: E_CORRUPT', (_what, entries) => {
    expect(refusal(entries).code).toBe('E_CORRUPT');
  });
});
