/**
 * The repository's chunk index, as a backup loads it before its first chunk:
 * every index object, then every pack no index object names — the packs of
 * a run that stopped before its index (a crash, kill -9): their headers are
 * read, so the chunks they hold are skipped, not stored again. A pack whose
 * header cannot be opened here (a write-only host cannot open another run's
 * packs) is left to prune.
 */
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { ChunkIndex } from '../repository/chunk-index.js';
import type { Storage } from '../repository/storage.js';
import type { LoadedIndex } from './chunk-writer.js';
import { decodeIndex, INDEX_PREFIX, type IndexedPack } from './index-object.js';
import { readPackHeader } from './read-header.js';

export const PACKS_PREFIX = 'packs/';

export interface LoadIndexOptions {
  /** Opens a pack's run key from its trailer's slots; without it, packs no index names are only counted. */
  open?: (slots: KeySlot[]) => SegmentCipher;
  signal?: AbortSignal;
}

export interface LoadedRepositoryIndex extends LoadedIndex {
  /** Packs no index object names and whose header could not be read. */
  unindexed: string[];
  /** Packs no index object named, read from their own headers. */
  recovered: IndexedPack[];
  /** Every pack the index holds, with its entries, in the order of `packs`. */
  all: IndexedPack[];
  /** The index objects read. */
  indexObjects: string[];
}

export async function loadIndex(storage: Storage, indexCipher: SegmentCipher, options: LoadIndexOptions = {}): Promise<LoadedRepositoryIndex> {
  const storageOptions = options.signal ? { signal: options.signal } : {};
  const listed: IndexedPack[] = [];
  const indexObjects: string[] = [];
  for await (const object of storage.list(INDEX_PREFIX, storageOptions)) {
    indexObjects.push(object.key);
    listed.push(...decodeIndex(await storage.getBuffer(object.key, storageOptions), indexCipher, `${storage.targetName}:${object.key}`));
  }
  // Index objects may overlap (a prune rewrites one before it deletes the old): a pack counts once.
  const unique = [...new Map(listed.map((p) => [p.key, p])).values()];
  const named = new Set(unique.map((p) => p.key));
  const recovered: IndexedPack[] = [];
  const unindexed: string[] = [];
  for await (const object of storage.list(PACKS_PREFIX, storageOptions)) {
    if (named.has(object.key)) continue;
    if (!options.open) {
      unindexed.push(object.key);
      continue;
    }
    try {
      recovered.push({ key: object.key, entries: (await readPackHeader(storage, object.key, options.open, storageOptions)).entries });
    } catch {
      // a pack half written, or sealed for keys this host lacks: prune decides
      unindexed.push(object.key);
    }
  }
  const all = [...unique, ...recovered];
  const index = new ChunkIndex(
    Math.max(
      1024,
      all.reduce((n, p) => n + p.entries.length, 0),
    ),
  );
  const packs: string[] = [];
  for (const pack of all) {
    const number = packs.push(pack.key) - 1;
    for (const entry of pack.entries) index.add(entry.id, { pack: number, offset: entry.offset, length: entry.length });
  }
  return { index, packs, unindexed, recovered, all, indexObjects };
}
