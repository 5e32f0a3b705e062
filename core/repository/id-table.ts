/**
 * The lookup half of the chunk index (core/repository/chunk-index.ts) as a
 * plain pair of arrays: ids packed 32 bytes apiece and an open-addressing
 * table of entry numbers + 1. The index keeps its own; a backup copies them
 * once into shared memory so the worker threads that cut files can tell a
 * stored chunk from a new one without a round trip to the main thread.
 */
import { CHUNK_ID_BYTES } from '../chunking/chunk-id.js';

export interface IdTable {
  ids: Uint8Array;
  /** A power of two in length; 0 is an empty slot. */
  slots: Uint32Array;
}

/** Ids are HMAC outputs, uniformly random, so their first four bytes are the table's hash as they are. */
export function idHash(id: Uint8Array): number {
  return (id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) >>> 0;
}

/** The entry number of `id`, or -1. */
export function findEntry(ids: Uint8Array, slots: Uint32Array, id: Uint8Array): number {
  const mask = slots.length - 1;
  for (let slot = idHash(id) & mask; ; slot = (slot + 1) & mask) {
    const value = slots[slot]!;
    if (value === 0) return -1;
    if (idAt(ids, value - 1, id)) return value - 1;
  }
}

function idAt(ids: Uint8Array, entry: number, id: Uint8Array): boolean {
  const base = entry * CHUNK_ID_BYTES;
  for (let i = 0; i < CHUNK_ID_BYTES; i++) if (ids[base + i] !== id[i]) return false;
  return true;
}

/** A copy of `table` in shared memory, the ids cut to the `entries` in use. */
export function sharedIdTable(ids: Uint8Array, slots: Uint32Array, entries: number): IdTable {
  const sharedIds = new Uint8Array(new SharedArrayBuffer(Math.max(1, entries * CHUNK_ID_BYTES)));
  sharedIds.set(ids.subarray(0, entries * CHUNK_ID_BYTES));
  const sharedSlots = new Uint32Array(new SharedArrayBuffer(slots.byteLength));
  sharedSlots.set(slots);
  return { ids: sharedIds, slots: sharedSlots };
}
