/**
 * Restoring a v2 snapshot: open its body with the run key, read its tree's
 * chunks, and hand each source's entries to its plugin's `restore`, a
 * file's bytes streamed chunk by chunk from the packs (each chunk checked
 * against its keyed id by the reader, the file's length against its entry).
 */
import { Readable } from 'node:stream';
import type { RestoreEntry, SegmentCodec, SourcePlugin } from '../contracts.js';
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { FailsafeError } from '../errors.js';
import { ChunkReader } from '../pack/chunk-reader.js';
import { loadIndex } from '../pack/load-index.js';
import { openRepositoryKeys } from '../pack/repository-config.js';
import type { Storage } from '../repository/storage.js';
import { decodeSnapshotBodyV2, snapshotKeyV2 } from './snapshot.js';
import { decodeTree, type TreeEntry } from './tree.js';

export interface DedupRestoreInput {
  storage: Storage;
  keyRing: KeyRing;
  codec: SegmentCodec;
  job: string;
  id: string;
  /** The plugin that restores each source, and where it lands. */
  plugins: Map<string, SourcePlugin>;
  destination(source: string): string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export async function restoreDeduplicated(input: DedupRestoreInput): Promise<{ entries: number }> {
  const { storage, keyRing } = input;
  const what = `${storage.targetName}:${snapshotKeyV2(input.job, input.id)}`;
  const open = (slots: KeySlot[]): SecretstreamCipher => new SecretstreamCipher(keyRing.open(slots));
  const snapshot = decodeSnapshotBodyV2(await storage.getBuffer(snapshotKeyV2(input.job, input.id)), open, what);
  const { keys } = await openRepositoryKeys(storage, keyRing);
  const known = await loadIndex(storage, new SecretstreamCipher(keys.indexKey), { open });
  const reader = new ChunkReader(storage, known, { idKey: keys.idKey, open }, input.codec);
  const treeText = Buffer.concat(await Promise.all(snapshot.tree.map((id) => reader.read(id)))).toString('utf8');
  const tree = decodeTree(treeText, what);
  let restored = 0;
  for (const source of snapshot.sources) {
    const plugin = input.plugins.get(source.name);
    if (!plugin) throw new FailsafeError('E_USAGE', `${what}: no plugin to restore source "${source.name}"`);
    const entries = tree.filter((e) => e.source === source.name);
    restored += entries.length;
    await plugin.restore(restoreEntries(entries, reader, what), input.destination(source.name), {
      warn: input.warn ?? ((): void => undefined),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  }
  return { entries: restored };
}

async function* restoreEntries(entries: TreeEntry[], reader: ChunkReader, what: string): AsyncIterable<RestoreEntry> {
  for (const entry of entries) {
    const { chunks, source: _source, mtime, ...rest } = entry;
    const base = { ...rest, mtime: new Date(mtime) };
    yield chunks ? { ...base, body: Readable.from(fileBytes(chunks, entry.size, reader, `${what}: ${entry.source}/${entry.path}`)) } : base;
  }
}

async function* fileBytes(chunks: Buffer[], size: number, reader: ChunkReader, what: string): AsyncIterable<Buffer> {
  let total = 0;
  for (const id of chunks) {
    const chunk = await reader.read(id);
    total += chunk.length;
    if (total > size) throw new FailsafeError('E_CORRUPT', `${what}: more bytes than the ${size} recorded`);
    yield chunk;
  }
  if (total !== size) throw new FailsafeError('E_CORRUPT', `${what}: ${total} bytes where ${size} were recorded`);
}
