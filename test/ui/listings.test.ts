/**
 * The dashboard's folder index (ui/listings.ts) against the plainest way to
 * say what it must answer: for every path, the entries directly inside it,
 * each folder implied by a deeper path listed as a folder, folders first,
 * then by name; a file's content empty; a path that names nothing undefined.
 */
import { describe, expect, it } from 'vitest';
import type { BrowsedEntry } from '../../api/operations/browse.js';
import { folderIndex, type TreeNode } from '../../ui/listings.js';

const mtime = '2026-11-20T10:00:00.000Z';
const entry = (source: string, path: string, type: BrowsedEntry['type'] = 'file'): BrowsedEntry => ({
  source,
  path,
  type,
  size: path.length,
  mode: 0o644,
  mtime,
});
const fullOf = (e: BrowsedEntry): string => (e.path === '' || e.path === '.' ? e.source : `${e.source}/${e.path}`);

/** Every path's content, from the whole list at once: each entry and each of its ancestors. */
function reference(entries: BrowsedEntry[]): Map<string, TreeNode[]> {
  const nodes = new Map<string, TreeNode>();
  for (const e of entries) {
    const full = fullOf(e);
    const parts = full.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const path = parts.slice(0, i).join('/');
      if (!nodes.has(path)) nodes.set(path, { name: parts[i - 1]!, path, type: 'directory' });
    }
    nodes.set(full, { name: parts.at(-1)!, path: full, type: e.type, size: e.size, mtime: e.mtime });
  }
  const content = new Map<string, TreeNode[]>([['', []]]);
  for (const node of nodes.values()) {
    const cut = node.path.lastIndexOf('/');
    const parent = cut === -1 ? '' : node.path.slice(0, cut);
    content.set(parent, [...(content.get(parent) ?? []), node]);
    if (!content.has(node.path)) content.set(node.path, []);
  }
  return content;
}

const sortedNames = (nodes: TreeNode[] | undefined): string[] | undefined =>
  nodes?.map((n) => `${n.type === 'directory' ? 'd' : 'f'}:${n.name}`).sort((a, b) => (a[0] === b[0] ? 0 : a[0] === 'd' ? -1 : 1));

describe('the folder index', () => {
  it('answers every path as the whole list says, whatever the order of the entries', () => {
    const entries = [
      entry('data', '', 'directory'),
      entry('data', 'a', 'directory'),
      entry('data', 'a/f2.txt'),
      entry('data', 'a/f10.txt'),
      entry('data', 'a/b/c/deep.txt'),
      entry('data', 'a/b', 'directory'),
      entry('data', 'top.txt'),
      entry('data', 'a/g.txt'),
      entry('data', 'link', 'symlink'),
      entry('etc', 'x/y.conf'),
      entry('etc', 'file-with-children'),
      entry('etc', 'file-with-children/inside'),
    ];
    for (const order of [entries, [...entries].reverse(), [...entries].sort((a, b) => fullOf(a).localeCompare(fullOf(b)))]) {
      const index = folderIndex(order);
      const expected = reference(order);
      for (const [path, nodes] of expected) {
        const got = index.get(path);
        expect(new Set(sortedNames(got)), path).toEqual(new Set(sortedNames(nodes)));
        // The entry's own fields where there is one, a bare folder node where only a deeper path names it.
        expect(got?.slice().sort((x, y) => x.path.localeCompare(y.path))).toEqual(nodes.slice().sort((x, y) => x.path.localeCompare(y.path)));
      }
      for (const nothing of ['nowhere', 'data/nowhere', 'data/a/nowhere/deeper', 'data/top.txt/inside']) expect(index.get(nothing), nothing).toBeUndefined();
      expect(index.get('data/top.txt')).toEqual([]);
    }
  });

  it('sorts a folder: folders first, then files, each in natural order', () => {
    const index = folderIndex([entry('s', 'f10.txt'), entry('s', 'B', 'directory'), entry('s', 'f2.txt'), entry('s', 'a/x')]);
    expect(index.get('s')!.map((n) => n.name)).toEqual(['a', 'B', 'f2.txt', 'f10.txt']);
    expect(index.get('')!.map((n) => [n.name, n.type])).toEqual([['s', 'directory']]);
  });
});
