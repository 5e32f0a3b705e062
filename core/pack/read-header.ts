/** A stored pack's header, read from its end: the trailer first (one ranged read), then the sealed header it points at. */
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { decodePackHeader, decodePackTrailer, TAIL_PROBE, type PackEntry } from './format.js';

export interface StoredPackHeader {
  cipher: SegmentCipher;
  entries: PackEntry[];
}

export async function readPackHeader(
  storage: Storage,
  key: string,
  open: (slots: KeySlot[]) => SegmentCipher,
  options: { signal?: AbortSignal } = {},
): Promise<StoredPackHeader> {
  const what = `${storage.targetName}:${key}`;
  const info = await storage.head(key, options);
  if (!info) throw new FailsafeError('E_NOT_FOUND', `${what}: the pack is missing`);
  const start = Math.max(0, info.size - TAIL_PROBE);
  // An empty object has no last byte to read up to (a range ending at -1 is no request): its missing trailer is E_CORRUPT.
  const tail = info.size === 0 ? Buffer.alloc(0) : await storage.getBuffer(key, { ...options, range: { start, end: info.size - 1 } });
  const trailer = decodePackTrailer(tail, info.size, what);
  const cipher = open(trailer.slots);
  const { offset, length } = trailer.header;
  const sealed =
    offset >= start
      ? tail.subarray(offset - start, offset - start + length)
      : await storage.getBuffer(key, { ...options, range: { start: offset, end: offset + length - 1 } });
  return { cipher, entries: decodePackHeader(sealed, trailer, cipher, what) };
}
