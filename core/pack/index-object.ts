/**
 * Index objects (`index/<random id>`, format v2): which chunks each pack
 * holds, sealed with the repository's index key. A backup writes one after
 * its last pack; loading them all gives the ChunkIndex a backup dedups
 * against. Like a pack's tail, an index object is untrusted input: every
 * entry is checked before it is used.
 */
import { randomBytes } from 'node:crypto';
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { checkRows, entryRows, type PackEntry } from './format.js';

export const INDEX_PREFIX = 'index/';
const CONTEXT = 'failsafe/v2/index';
const MAX_PACKS = 1_000_000;

export interface IndexedPack {
  key: string;
  entries: PackEntry[];
}

export function newIndexKey(): string {
  return `${INDEX_PREFIX}${randomBytes(32).toString('hex')}`;
}

/** An index object: per pack its key and its entries, as the pack's own header lists them. */
export function encodeIndex(packs: IndexedPack[], cipher: SegmentCipher): Buffer {
  const body = packs.map((pack) => ({ key: pack.key, entries: entryRows(pack.entries) }));
  return cipher.encrypt(Buffer.from(JSON.stringify(body)), CONTEXT);
}

export function decodeIndex(sealed: Buffer, cipher: SegmentCipher, what: string): IndexedPack[] {
  let body: unknown;
  try {
    body = JSON.parse(cipher.decrypt(sealed, CONTEXT).toString('utf8'));
  } catch (err) {
    if (err instanceof FailsafeError) throw new FailsafeError(err.code, `${what}: ${err.message}`, { cause: err });
    throw new FailsafeError('E_CORRUPT', `${what}: not a valid index object`);
  }
  if (!Array.isArray(body) || body.length > MAX_PACKS) throw new FailsafeError('E_CORRUPT', `${what}: not a valid index object`);
  return body.map((pack: unknown) => {
    const { key, entries } = (pack ?? {}) as { key?: unknown; entries?: unknown };
    if (typeof key !== 'string' || !/^packs\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(key)) throw new FailsafeError('E_CORRUPT', `${what}: not a valid index object`);
    // Where the pack's data ends is in the pack, not here: the rows are checked for form and order; a read checks them against the pack.
    return { key, entries: checkRows(entries, Number.MAX_SAFE_INTEGER, `${what}: ${key}`) };
  });
}
