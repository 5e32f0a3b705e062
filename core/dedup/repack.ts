/**
 * Repacking, the half of prune that frees space inside packs: a pack some of
 * whose chunks no kept snapshot uses cannot be deleted, so its used chunks
 * are copied into new packs and the old pack is swept with the unused ones.
 * As in restic (`--max-unused`, 5% by default), only as many packs are
 * repacked as it takes to bring the unused bytes left in the repository
 * under a fraction of the used ones, the emptiest first: repacking costs a
 * download and an upload of what it keeps.
 *
 * A copied chunk is opened with its old pack's key and sealed again under a
 * new run key; it is not decompressed, and its id, the AEAD's associated
 * data, is checked by the opening. A pack whose key this host cannot open
 * (a write-only host) is left whole, and so is every pack when the host
 * has nothing to seal new ones for (an identity alone).
 */
import type { SegmentCipher } from '../contracts.js';
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { FailsafeError } from '../errors.js';
import { DEFAULT_PACK_SIZE, PackBuilder } from '../pack/builder.js';
import { chunkContext, type PackEntry } from '../pack/format.js';
import type { IndexedPack } from '../pack/index-object.js';
import { readPackHeader } from '../pack/read-header.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { runSlots } from './run-slots.js';

/** restic's default: repack until the unused bytes left are at most 5% of the used ones. */
export const DEFAULT_MAX_UNUSED = 0.05;

/** A pack some of whose chunks are used, with which. */
export interface PartlyUsedPack {
  pack: IndexedPack;
  used: PackEntry[];
  unusedBytes: number;
}

/** The packs to repack: the emptiest first, until what stays unused is within `maxUnused` of what is used. */
export function choosePacksToRepack(partly: PartlyUsedPack[], usedBytes: number, maxUnused: number): PartlyUsedPack[] {
  let unused = partly.reduce((n, p) => n + p.unusedBytes, 0);
  const chosen: PartlyUsedPack[] = [];
  const ratio = (p: PartlyUsedPack): number => p.unusedBytes / (p.unusedBytes + p.used.reduce((n, e) => n + e.length, 0));
  for (const candidate of [...partly].sort((a, b) => ratio(b) - ratio(a))) {
    if (unused <= maxUnused * usedBytes) break;
    chosen.push(candidate);
    unused -= candidate.unusedBytes;
  }
  return chosen;
}

export interface RepackInput {
  storage: Storage;
  keyRing: KeyRing;
  packs: PartlyUsedPack[];
  packSize?: number;
  /** Seal the new packs for the recipients alone, as a write-only repository's backups are. */
  writeOnly?: boolean;
  signal?: AbortSignal;
}

export interface RepackResult {
  /** The new packs, stored, with their entries. */
  written: IndexedPack[];
  /** The old packs whose used chunks are all in `written` now. */
  replaced: string[];
  /** Old packs this host could not open, left whole. */
  skipped: string[];
  /** The bytes of the new packs, headers included. */
  writtenBytes: number;
}

export async function repack(input: RepackInput): Promise<RepackResult> {
  const { storage, keyRing, signal } = input;
  const options = signal ? { signal } : {};
  const result: RepackResult = { written: [], replaced: [], skipped: [], writtenBytes: 0 };
  const runKey = keyRing.newDataKey();
  const slots = sealOrSkip(keyRing, runKey, input.writeOnly === true);
  if (!slots) return { ...result, skipped: input.packs.map((p) => p.pack.key) };
  const run = { cipher: new SecretstreamCipher(runKey), slots };
  const builder = new PackBuilder(input.packSize ?? DEFAULT_PACK_SIZE);
  const store = async (): Promise<void> => {
    const pack = builder.close(run.cipher, run.slots);
    await storage.put(pack.key, pack.bytes, options);
    result.written.push({ key: pack.key, entries: pack.entries });
    result.writtenBytes += pack.bytes.length;
    crashPoint('prune-repacked', result.written.length);
  };
  for (const { pack, used } of input.packs) {
    const cipher = await openPack(storage, pack.key, keyRing, options);
    if (!cipher) {
      result.skipped.push(pack.key);
      continue;
    }
    for (const entry of used) {
      const sealed = await storage.getBuffer(pack.key, { ...options, range: { start: entry.offset, end: entry.offset + entry.length - 1 } });
      const compressed = cipher.decrypt(sealed, chunkContext(entry.id));
      builder.add(entry.id, entry.kind, run.cipher.encrypt(compressed, chunkContext(entry.id)), entry.plainLength);
      if (builder.full) await store();
    }
    result.replaced.push(pack.key);
  }
  if (builder.count > 0) await store();
  return result;
}

/** The new packs' slots, or undefined when this ring has nothing to seal for (an identity alone opens, never seals). */
function sealOrSkip(keyRing: KeyRing, runKey: Uint8Array, writeOnly: boolean): KeySlot[] | undefined {
  try {
    return runSlots(keyRing, runKey, writeOnly);
  } catch (err) {
    if (err instanceof FailsafeError && err.code === 'E_KEY_MISSING') return undefined;
    throw err;
  }
}

/** The pack's cipher, or undefined when none of this host's secrets opens its key (any other fault is thrown). */
async function openPack(storage: Storage, key: string, keyRing: KeyRing, options: { signal?: AbortSignal }): Promise<SegmentCipher | undefined> {
  let locked = false;
  const open = (slots: KeySlot[]): SegmentCipher => {
    try {
      return new SecretstreamCipher(keyRing.open(slots));
    } catch (err) {
      locked = err instanceof FailsafeError && err.code === 'E_WRONG_KEY';
      throw err;
    }
  };
  try {
    return (await readPackHeader(storage, key, open, options)).cipher;
  } catch (err) {
    if (locked) return undefined;
    throw err;
  }
}
