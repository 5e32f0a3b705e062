/** Maps a key path in a YAML document to `file:line:col`, for one-line errors. */
import { isCollection, isNode, type Document, type LineCounter } from 'yaml';

export type KeyPath = (string | number)[];

export function formatKeyPath(path: KeyPath): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`), '');
}

/** Line and column of the node at `path`, or of its nearest existing parent (for a missing key). */
export function positionOf(doc: Document, lines: LineCounter, path: KeyPath): { line: number; col: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      // For a present key, point at the key rather than its value when we can.
      const offset = keyOffset(doc, path.slice(0, depth)) ?? node.range[0];
      return lines.linePos(offset);
    }
  }
  return { line: 1, col: 1 };
}

function keyOffset(doc: Document, path: KeyPath): number | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isCollection(parent)) return undefined;
  const last = path[path.length - 1];
  for (const item of parent.items as unknown[]) {
    const key = (item as { key?: { value?: unknown; range?: [number, number, number] } }).key;
    if (key && key.value === last && key.range) return key.range[0];
  }
  return undefined;
}
