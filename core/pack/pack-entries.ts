/**
 * A pack header's entries as a restore keeps them, for every pack it has
 * read until its end: typed arrays in offset order, 56 bytes a chunk, where a
 * Map from hex ids to entry objects cost about 300 (a 64-character key, the
 * object and its id Buffer) and grew with the data restored.
 */
import { CHUNK_ID_BYTES } from '../chunking/chunk-id.js';
import type { PackEntry } from './format.js';

export class PackEntries {
  readonly #ids: Uint8Array;
  readonly #offsets: Float64Array;
  readonly #lengths: Float64Array;
  readonly #plainLengths: Float64Array;

  constructor(entries: readonly PackEntry[]) {
    const sorted = [...entries].sort((a, b) => a.offset - b.offset);
    this.#ids = new Uint8Array(sorted.length * CHUNK_ID_BYTES);
    this.#offsets = Float64Array.from(sorted, (e) => e.offset);
    this.#lengths = Float64Array.from(sorted, (e) => e.length);
    this.#plainLengths = Float64Array.from(sorted, (e) => e.plainLength);
    sorted.forEach((e, i) => this.#ids.set(e.id.subarray(0, CHUNK_ID_BYTES), i * CHUNK_ID_BYTES));
  }

  /** The plaintext length of chunk `id` at `offset` with sealed `length`, when the header has that very entry. */
  plainLength(id: Uint8Array, offset: number, length: number): number | undefined {
    let low = 0;
    let high = this.#offsets.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const at = this.#offsets[middle]!;
      if (at < offset) low = middle + 1;
      else if (at > offset) high = middle - 1;
      else return this.#lengths[middle] === length && this.#idAt(middle, id) ? this.#plainLengths[middle] : undefined;
    }
    return undefined;
  }

  #idAt(entry: number, id: Uint8Array): boolean {
    if (id.length !== CHUNK_ID_BYTES) return false;
    const from = entry * CHUNK_ID_BYTES;
    for (let i = 0; i < CHUNK_ID_BYTES; i++) if (this.#ids[from + i] !== id[i]) return false;
    return true;
  }
}
