/**
 * A v2 snapshot's tree: its file list, one JSON line per entry in the order
 * the sources gave them, each file with its chunk ids. The tree is itself
 * cut into chunks and stored in packs (kind `tree`), so unchanged stretches
 * of a large file list deduplicate against the previous snapshot
 * (docs/design/dedup.md, Snapshots). Read back it is untrusted input: every
 * line is checked before anything acts on it.
 */
import type { EntryType } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import type { ManifestEntry } from '../format/manifest.js';
import { assertHardLink } from '../format/manifest-schema.js';
import { isWellFormedName } from '../fs/name-bytes.js';
import { normalizeArchivePath } from '../fs/paths.js';
import { decodeBase64 } from '../util/base64.js';

/** A manifest entry of format v1 without its place in a tar stream, and with a file's chunks in order (ids, 32 bytes each). */
export type TreeEntry = Omit<ManifestEntry, 'sha256' | 'segment' | 'offset'> & { chunks?: Buffer[] };

const TYPES: readonly EntryType[] = ['file', 'directory', 'symlink'];
const MAX_LINE = 4 * 1024 * 1024;

export function encodeTreeLine(entry: TreeEntry): string {
  const { chunks, ...rest } = entry;
  return `${JSON.stringify({ ...rest, ...(chunks ? { chunks: chunks.map((c) => c.toString('base64')) } : {}) })}\n`;
}

/** Parses the tree's text back into entries, checking each: paths stay inside their source, sizes are numbers, ids are 32 bytes. */
export function decodeTree(text: string, what: string): TreeEntry[] {
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new FailsafeError('E_CORRUPT', `${what}: the tree does not end with a whole line`);
  // Each file by source and path, for the hard links that name one.
  const earlier = new Map<string, string>();
  return lines.map((line, i) => {
    if (line.length > MAX_LINE) throw new FailsafeError('E_CORRUPT', `${what}: tree line ${i + 1} is ${line.length} characters long`);
    try {
      const entry = checkEntry(JSON.parse(line) as Record<string, unknown>);
      if (entry.hardLink !== undefined) assertHardLink(entry, earlier.get(`${entry.source}/${entry.hardLink}`), `${what}: tree line ${i + 1}`);
      earlier.set(`${entry.source}/${entry.path}`, entry.type);
      return entry;
    } catch (err) {
      if (err instanceof FailsafeError && err.code === 'E_CORRUPT') throw err;
      throw new FailsafeError('E_CORRUPT', `${what}: tree line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
  });
}

function checkEntry(raw: Record<string, unknown>): TreeEntry {
  const { source, path, type, size, mode, mtime, linkTarget, uid, gid, chunks, hardLink, sparse } = raw;
  if (typeof source !== 'string' || source === '' || typeof path !== 'string') throw new Error('no source or path');
  if (!TYPES.includes(type as EntryType)) throw new Error(`unknown entry type ${String(type)}`);
  if (!isCount(size) || !isCount(mode) || typeof mtime !== 'string' || Number.isNaN(Date.parse(mtime))) throw new Error('bad size, mode or time');
  const entry: TreeEntry = { source, path: normalizeArchivePath(path), type: type as EntryType, size, mode, mtime };
  if (type === 'symlink') {
    if (typeof linkTarget !== 'string' || !isWellFormedName(linkTarget)) throw new Error('a link without a well-formed target');
    entry.linkTarget = linkTarget;
  }
  if (isCount(uid)) entry.uid = uid;
  if (isCount(gid)) entry.gid = gid;
  if (type === 'file') {
    if (hardLink !== undefined) entry.hardLink = normalizeArchivePath(String(hardLink));
    if (sparse === true) entry.sparse = true;
    if (!Array.isArray(chunks)) throw new Error('a file without chunks');
    entry.chunks = chunks.map((c) => {
      const id = (typeof c === 'string' && decodeBase64(c)) || Buffer.alloc(0);
      if (id.length !== 32) throw new Error('a chunk id is not 32 bytes');
      return id;
    });
  }
  return entry;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
