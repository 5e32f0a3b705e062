/**
 * A chunk's id: HMAC-SHA-256 of its plaintext under the repository's id key.
 * Keyed, so that an id says nothing to someone who knows a file but not the
 * key (with a plain hash, anyone holding a copy of a file could confirm that
 * the repository stores it). HMAC-SHA-256 rather than keyed BLAKE2b: node's
 * crypto runs it natively in every worker thread, at memory speed on CPUs
 * with SHA extensions, where libsodium's BLAKE2b is WebAssembly.
 */
import { createHmac } from 'node:crypto';

export const CHUNK_ID_BYTES = 32;

export function chunkId(idKey: Uint8Array, plain: Uint8Array): Buffer {
  return createHmac('sha256', idKey).update(plain).digest();
}
