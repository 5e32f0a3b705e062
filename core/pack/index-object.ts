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
import { decodePackHeader, encodePackTail, type PackEntry, type PackTrailer } from './format.js';

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

/** An index object: per pack its key and its header's entries, each entry list in the pack header's own encoding. */
export function encodeIndex(packs: IndexedPack[], cipher: SegmentCipher): Buffer {
  const body = packs.map((pack) => ({ key: pack.key, header: encodePackTail(pack.entries, 0, identityCipher, []).toString('base64') }));
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
    const { key, header } = (pack ?? {}) as { key?: unknown; header?: unknown };
    if (typeof key !== 'string' || !/^packs\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(key) || typeof header !== 'string') {
      throw new FailsafeError('E_CORRUPT', `${what}: not a valid index object`);
    }
    const tail = Buffer.from(header, 'base64');
    // The entries in the pack header's encoding, "sealed" with the identity: the same checks as a pack's own header.
    const trailer: PackTrailer = { format: 2, slots: [], header: { offset: Number.MAX_SAFE_INTEGER, length: 0 } };
    const sealedLength = tail.length - tailOverhead(tail);
    return { key, entries: decodePackHeader(tail.subarray(0, sealedLength), trailer, identityCipher, `${what}: ${key}`) };
  });
}

/** The bytes after the (here unsealed) header in encodePackTail's output: trailer JSON, its length, the magic. */
function tailOverhead(tail: Buffer): number {
  if (tail.length < 12) throw new FailsafeError('E_CORRUPT', 'an index entry too short to hold a pack header');
  return tail.readUInt32LE(tail.length - 12) + 12;
}

/** The index object is sealed as a whole; the pack headers inside it need no second layer. */
const identityCipher: SegmentCipher = {
  name: 'none',
  authenticated: false,
  sealedSize: (n) => n,
  openedSize: (n) => n,
  encrypt: (plain) => plain,
  encryptInto: (plain, _context, out) => plain.copy(out),
  headerOf: () => new Uint8Array(0),
  resealInto: (plain, _context, out) => plain.copy(out),
  decrypt: (sealed) => sealed,
  decryptInto: (sealed, _context, out) => sealed.copy(out),
};
