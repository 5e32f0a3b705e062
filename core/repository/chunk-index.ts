/**
 * The in-memory index of a deduplicating repository: chunk id → where the
 * chunk is stored (pack, offset, length). Held in typed arrays, not a Map of
 * objects: an entry costs its 32-byte id and three 32-bit numbers, plus a
 * 32-bit slot of an open-addressing table kept at most 3/4 full — about 50
 * bytes on average, where a Map of objects costs several hundred (restic's
 * and Kopia's users meet the difference as out-of-memory kills on large
 * repositories). 150 MB holds about 3 million chunks: about 1.8 TB of unique data
 * at the default 512 KiB average (~600 KiB mean) chunk size (docs/design/dedup.md).
 */
import { CHUNK_ID_BYTES } from '../chunking/chunk-id.js';
import { findEntry, idHash, sharedIdTable, type IdTable } from './id-table.js';

export interface ChunkLocation {
  /** The pack's number in the repository's pack list (the index's own numbering). */
  pack: number;
  offset: number;
  length: number;
}

const EMPTY = 0;
const MAX_LOAD = 0.75;

export class ChunkIndex {
  #ids: Uint8Array;
  #packs: Uint32Array;
  #offsets: Uint32Array;
  #lengths: Uint32Array;
  /** Entry number + 1 per slot; 0 is empty. */
  #slots: Uint32Array;
  #size = 0;

  constructor(capacity = 1024) {
    const entries = Math.max(16, capacity);
    this.#ids = new Uint8Array(entries * CHUNK_ID_BYTES);
    this.#packs = new Uint32Array(entries);
    this.#offsets = new Uint32Array(entries);
    this.#lengths = new Uint32Array(entries);
    this.#slots = new Uint32Array(slotsFor(entries));
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes the index's arrays take (what it holds in memory, whatever is used of it). */
  get bytes(): number {
    return this.#ids.byteLength + this.#packs.byteLength + this.#offsets.byteLength + this.#lengths.byteLength + this.#slots.byteLength;
  }

  has(id: Uint8Array): boolean {
    return this.#find(id) >= 0;
  }

  get(id: Uint8Array): ChunkLocation | undefined {
    const entry = this.#find(id);
    if (entry < 0) return undefined;
    return { pack: this.#packs[entry]!, offset: this.#offsets[entry]!, length: this.#lengths[entry]! };
  }

  /** Adds a chunk; false (and nothing changes) when the id is there already: the first copy stored is the one used. */
  add(id: Uint8Array, location: ChunkLocation): boolean {
    if (id.length !== CHUNK_ID_BYTES) throw new RangeError(`a chunk id has ${CHUNK_ID_BYTES} bytes, not ${id.length}`);
    if (this.#find(id) >= 0) return false;
    if (this.#size === this.#packs.length) this.#growEntries();
    if ((this.#size + 1) / this.#slots.length > MAX_LOAD) this.#rehash(this.#slots.length * 2);
    const entry = this.#size++;
    this.#ids.set(id, entry * CHUNK_ID_BYTES);
    this.#packs[entry] = location.pack;
    this.#offsets[entry] = location.offset;
    this.#lengths[entry] = location.length;
    this.#place(entry);
    return true;
  }

  /** A copy of the lookup arrays in shared memory, for worker threads to ask `has` of (core/repository/id-table.ts). */
  shareIds(): IdTable {
    return sharedIdTable(this.#ids, this.#slots, this.#size);
  }

  /** Every entry, in the order added. */
  *entries(): IterableIterator<[Uint8Array, ChunkLocation]> {
    for (let entry = 0; entry < this.#size; entry++) {
      const id = this.#ids.slice(entry * CHUNK_ID_BYTES, (entry + 1) * CHUNK_ID_BYTES);
      yield [id, { pack: this.#packs[entry]!, offset: this.#offsets[entry]!, length: this.#lengths[entry]! }];
    }
  }

  #find(id: Uint8Array): number {
    return findEntry(this.#ids, this.#slots, id);
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    const id = this.#ids.subarray(entry * CHUNK_ID_BYTES, (entry + 1) * CHUNK_ID_BYTES);
    let slot = idHash(id) & mask;
    while (this.#slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.#slots[slot] = entry + 1;
  }

  #growEntries(): void {
    const capacity = this.#packs.length * 2;
    this.#ids = grown(this.#ids, capacity * CHUNK_ID_BYTES);
    this.#packs = grown(this.#packs, capacity);
    this.#offsets = grown(this.#offsets, capacity);
    this.#lengths = grown(this.#lengths, capacity);
  }

  #rehash(slots: number): void {
    this.#slots = new Uint32Array(slots);
    for (let entry = 0; entry < this.#size; entry++) this.#place(entry);
  }
}

/** A power of two with room for `entries` at most 3/4 full. */
function slotsFor(entries: number): number {
  return 2 ** Math.ceil(Math.log2(entries / MAX_LOAD));
}

function grown<T extends Uint8Array | Uint32Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}
