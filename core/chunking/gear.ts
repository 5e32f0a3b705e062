/**
 * The gear table of the content-defined chunker: 256 32-bit values, one per
 * byte value. Derived from a secret of the repository (like restic's chunker
 * polynomial and Borg's buzhash seed), so that where a file's chunks end
 * says nothing to someone who knows the file but not the repository's key:
 * with a public table, chunk sizes alone confirm that a known file is stored.
 */
import { createHmac } from 'node:crypto';

const CONTEXT = 'failsafe/v2/gear';

/** The table for `key` (at least 16 bytes): HMAC-SHA-256 in counter mode, 1 KiB of it read as 256 little-endian words. */
export function gearTable(key: Uint8Array): Uint32Array {
  if (key.length < 16) throw new RangeError(`a chunker key needs at least 16 bytes, got ${key.length}`);
  const bytes = Buffer.alloc(1024);
  for (let block = 0; block < 32; block++) {
    createHmac('sha256', key)
      .update(`${CONTEXT}/${block}`)
      .digest()
      .copy(bytes, block * 32);
  }
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = bytes.readUInt32LE(i * 4);
  return table;
}
