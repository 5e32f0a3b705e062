/**
 * The snapshots the page is browsing, kept decoded and indexed by folder:
 * opening a folder of a 100,000-file snapshot would otherwise read,
 * authenticate and parse its whole manifest again for each click. A
 * snapshot never changes once written, so an index stays right for as long
 * as it is kept; only the last few are, keyed by what named them.
 */
import type { Failsafe } from '../api/failsafe.js';
import type { BrowsedEntry } from '../api/operations/browse.js';
import type { ManifestSource } from '../core/format/manifest.js';
import type { SnapshotInfo } from '../core/repository/snapshots.js';
import { pickDefined } from '../core/util/defined.js';

const KEPT = 3;

export interface TreeNode {
  name: string;
  /** `<source>/<path>`: what `ls`, a download and a restore take. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size?: number;
  mtime?: string;
  linkTarget?: string;
}

export interface FolderIndex {
  snapshot: SnapshotInfo;
  /** Each folder's content by its `<source>/<path>` ('' holds the sources); a file's is empty; undefined for no such path. */
  folders: { get(path: string): TreeNode[] | undefined };
}

export class Listings {
  readonly #failsafe: Failsafe;
  readonly #kept = new Map<string, Promise<FolderIndex>>();

  constructor(failsafe: Failsafe) {
    this.#failsafe = failsafe;
  }

  /**
   * A snapshot's top level (its sources) at once: from the kept index when
   * there is one, else read before the rest of its manifest is decoded
   * (Failsafe.sources), and the full index started once it is answered,
   * so that the page draws the sources while the rest is decoded and the
   * next click finds it under way. Only a snapshot whose sources cannot be
   * read alone (format 2) waits for the whole.
   */
  async root(id: string, select: { job?: string; target?: string }): Promise<{ snapshot: SnapshotInfo; children: TreeNode[] }> {
    const whole = (): Promise<{ snapshot: SnapshotInfo; children: TreeNode[] }> =>
      this.get(id, select).then(({ snapshot, folders }) => ({ snapshot, children: folders.get('') ?? [] }));
    if (id === 'latest' || this.#kept.has(keyOf(id, select))) return whole();
    const read = await this.#failsafe.sources(id, select);
    if (!read) return whole();
    // Not awaited: kept for the next click, which is told its failure.
    this.get(id, select).catch(() => undefined);
    return { snapshot: read.snapshot, children: sourceNodes(read.sources) };
  }

  /** `failsafe ls <id>`, folder by folder. */
  get(id: string, select: { job?: string; target?: string }): Promise<FolderIndex> {
    const read = (): Promise<FolderIndex> => this.#failsafe.ls(id, undefined, select).then((l) => ({ snapshot: l.snapshot, folders: folderIndex(l.entries) }));
    // `latest` names another snapshot after the next backup.
    if (id === 'latest') return read();
    const key = keyOf(id, select);
    let index = this.#kept.get(key);
    if (index) this.#kept.delete(key);
    else index = read();
    // A failed read is not kept: the next click tries again.
    index.catch(() => this.#kept.get(key) === index && this.#kept.delete(key));
    this.#kept.set(key, index);
    for (const old of [...this.#kept.keys()].slice(0, Math.max(0, this.#kept.size - KEPT))) this.#kept.delete(old);
    return index;
  }
}

const keyOf = (id: string, select: { job?: string; target?: string }): string => JSON.stringify([id, select.job, select.target]);

/** The top level as the folder index lists it: each source that holds an entry, a folder, by name. */
function sourceNodes(sources: ManifestSource[]): TreeNode[] {
  const nodes = sources.filter((s) => s.entries > 0).map((s): TreeNode => ({ name: s.name, path: s.name, type: 'directory' }));
  return nodes.sort((a, b) => byName(a.name, b.name));
}

/** Names as people sort them: "f2" before "f10", case aside. One collator: `localeCompare` per pair is many times slower. */
const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare;

/** A folder's content until it is asked for: the entries directly in it, and bare folders that only a deeper path names. */
type Item = BrowsedEntry | TreeNode;

const SLASH = 0x2f;

/** The `<source>/<path>` of an entry: the source alone for its root. */
const fullOf = (e: BrowsedEntry): string => (e.path === '' || e.path === '.' ? e.source : `${e.source}/${e.path}`);

/** Whether `path` (inside a source) lies directly in the folder `dir` of the same source ('' for the source's own top). */
function directlyIn(path: string, dir: string): boolean {
  if (dir === '') return path !== '' && path !== '.' && path.indexOf('/') === -1;
  return path.length > dir.length + 1 && path.charCodeAt(dir.length) === SLASH && path.startsWith(dir) && path.indexOf('/', dir.length + 1) === -1;
}

/**
 * Every folder's content in one pass over the entries. The pass only files
 * each entry under its folder: its node is made, and the folder sorted
 * (folders first, then files, each by name), when the folder is first asked
 * for, so that a big snapshot's first folder does not wait for 100,000 nodes
 * and names nobody opens. A folder the manifest has no entry for (a source's
 * root) is still listed, from what it holds. Entries come in walk order, a
 * folder's files one after the other: while they stay in the last entry's
 * folder, that folder is reused without making or looking up its path.
 */
export function folderIndex(entries: BrowsedEntry[]): FolderIndex['folders'] {
  const folders = new Map<string, Item[]>([['', []]]);
  // The last entry's folder: its source, its path inside the source ('' at the source's top), its content.
  let [lastSource, lastDir, lastContent] = ['', '', folders.get('')!];
  for (const e of entries) {
    if (e.path === '' || e.path === '.') folders.get('')!.push(e);
    else if (e.source === lastSource && directlyIn(e.path, lastDir)) lastContent.push(e);
    else {
      const cut = e.path.lastIndexOf('/');
      [lastSource, lastDir] = [e.source, cut === -1 ? '' : e.path.slice(0, cut)];
      lastContent = folderOf(folders, lastDir === '' ? e.source : `${e.source}/${lastDir}`);
      lastContent.push(e);
    }
    if (e.type === 'directory' && !folders.has(fullOf(e))) folders.set(fullOf(e), []);
  }
  const sorted = new Map<string, TreeNode[]>();
  const get = (path: string): TreeNode[] | undefined => {
    let content = sorted.get(path);
    if (content) return content;
    const items = folders.get(path);
    // A file's content is empty; a path that names nothing has none.
    if (!items) return isLeaf(path) ? [] : undefined;
    content = nodesOf(items).sort((a, b) => ((a.type === 'directory') === (b.type === 'directory') ? byName(a.name, b.name) : a.type === 'directory' ? -1 : 1));
    sorted.set(path, content);
    folders.delete(path);
    return content;
  };
  // Listed in its folder as something other than a folder.
  const isLeaf = (path: string): boolean => {
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    return path !== '' && (get(cut === -1 ? '' : path.slice(0, cut))?.some((n) => n.name === name && n.type !== 'directory') ?? false);
  };
  return { get };
}

/** A folder's nodes, one per name: an entry's own over a bare folder made for a deeper path, a later entry over an earlier one. */
function nodesOf(items: Item[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  for (const item of items) {
    if (!('source' in item)) {
      if (!nodes.has(item.name)) nodes.set(item.name, item);
      continue;
    }
    const path = fullOf(item);
    const name = path.slice(path.lastIndexOf('/') + 1);
    nodes.set(name, { name, path, type: item.type, size: item.size, mtime: item.mtime, ...pickDefined({ linkTarget: item.linkTarget }) });
  }
  return [...nodes.values()];
}

/** The content of the folder at `path`, made with each missing ancestor (each listed in its parent as a folder). */
function folderOf(folders: Map<string, Item[]>, path: string): Item[] {
  const missing: string[] = [];
  let content = folders.get(path);
  for (let at = path; !content; content = folders.get(at)) {
    missing.push(at);
    const cut = at.lastIndexOf('/');
    at = cut === -1 ? '' : at.slice(0, cut);
  }
  for (const folder of missing.reverse()) {
    content.push({ name: folder.slice(folder.lastIndexOf('/') + 1), path: folder, type: 'directory' });
    folders.set(folder, (content = []));
  }
  return content;
}
