/**
 * Content-defined chunking with FastCDC (Xia et al., "FastCDC: a Fast and
 * Efficient Content-Defined Chunking Approach for Data Deduplication", USENIX
 * ATC 2016): a gear rolling hash, cut points where the hash has zeros under
 * a mask, and normalized chunking — a harder mask (more bits) before the
 * average size and an easier one after — so that sizes gather around the
 * average instead of spreading exponentially. A chunk is never shorter than
 * `min` (no hashing at all below it) nor longer than `max`.
 *
 * Streaming: the chunker only finds cut points. It is fed pieces of any size
 * and keeps nothing of them but its hash and the current chunk's length, so
 * memory does not grow with the data; the caller holds at most one chunk
 * (`max` bytes). An insertion or deletion moves only the cut points near it:
 * the gear hash forgets a byte 32 bytes later, so the chunks after the next
 * unchanged cut point are the same as before.
 */

export interface ChunkSizes {
  /** No cut before this many bytes. */
  min: number;
  /** The target average; a power of two. */
  avg: number;
  /** A cut is forced here. */
  max: number;
}

/** Half restic's average (its mean chunk is ~1.5 MiB): an edit stores less again; the maximum fits a pipeline segment (4 MiB). See docs/design/dedup.md. */
export const DEFAULT_CHUNK_SIZES: ChunkSizes = { min: 128 * 1024, avg: 512 * 1024, max: 4 * 1024 * 1024 };

/** FastCDC's normalization level 2: two bits more before the average, two fewer after it. */
const NORMALIZATION = 2;

/** A mask of `bits` one-bits spread over the 32-bit word, high bits first: the hash's high bits remember more bytes. */
export function spreadMask(bits: number): number {
  let mask = 0;
  // Every other bit from the top, then fill downwards: `bits` ones in all.
  for (let i = 31, set = 0; i >= 0 && set < bits; i -= 2, set++) mask |= 1 << i;
  for (let i = 30, set = popcount(mask); i >= 0 && set < bits; i -= 2, set++) mask |= 1 << i;
  return mask >>> 0;
}

function popcount(value: number): number {
  let count = 0;
  for (let v = value >>> 0; v !== 0; v &= v - 1) count++;
  return count;
}

export function checkSizes({ min, avg, max }: ChunkSizes): void {
  const bits = Math.log2(avg);
  if (!Number.isInteger(bits) || bits < 8 || bits > 28) throw new RangeError(`the average chunk size must be a power of two from 256 B to 256 MiB, not ${avg}`);
  if (!(Number.isInteger(min) && Number.isInteger(max) && 64 <= min && min < avg && avg < max)) {
    throw new RangeError(`chunk sizes must satisfy 64 <= min < avg < max (integers), not ${min}/${avg}/${max}`);
  }
}

export class FastCdc {
  readonly sizes: ChunkSizes;
  /** The gear table read as signed words, and the masks too: the hash stays a 32-bit integer in V8's optimized loop. */
  readonly #gear: Int32Array;
  readonly #maskHard: number;
  readonly #maskEasy: number;
  #hash = 0;
  /** Bytes of the current chunk seen so far. */
  #length = 0;

  constructor(gear: Uint32Array, sizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
    checkSizes(sizes);
    if (gear.length !== 256) throw new RangeError('a gear table has 256 entries');
    this.sizes = { ...sizes };
    this.#gear = new Int32Array(gear.buffer, gear.byteOffset, gear.length);
    const bits = Math.log2(sizes.avg);
    this.#maskHard = spreadMask(bits + NORMALIZATION) | 0;
    this.#maskEasy = spreadMask(bits - NORMALIZATION) | 0;
  }

  /**
   * Feeds the next bytes of the stream; returns the lengths of the chunks
   * that end within them, in order (the bytes after the last one belong to a
   * chunk that continues in the next call, or ends with `finish`).
   */
  push(data: Uint8Array): number[] {
    const cuts: number[] = [];
    const { min, avg, max } = this.sizes;
    const gear = this.#gear;
    let hash = this.#hash;
    let length = this.#length;
    let i = 0;
    const end = data.length;
    while (i < end) {
      if (length < min) {
        // Below the minimum no cut can happen, and the hash of these bytes is never read: skip them.
        const skip = Math.min(min - length, end - i);
        i += skip;
        length += skip;
        hash = 0;
        continue;
      }
      // The stretch that can be scanned with one mask without passing the average or the maximum.
      const limit = length < avg ? Math.min(end, i + (avg - length)) : Math.min(end, i + (max - length));
      const mask = length < avg ? this.#maskHard : this.#maskEasy;
      const start = i;
      let cut = -1;
      for (; i < limit; i++) {
        // `| 0`, not `>>> 0`: the same low 32 bits, so the same cut points, but an unsigned result above 2^31 is a double.
        hash = ((hash << 1) + gear[data[i]!]!) | 0;
        if ((hash & mask) === 0) {
          cut = i + 1;
          break;
        }
      }
      if (cut !== -1) {
        i = cut;
        cuts.push(length + (cut - start));
        length = 0;
        hash = 0;
        continue;
      }
      length += limit - start;
      if (length >= max) {
        cuts.push(length);
        length = 0;
        hash = 0;
      }
    }
    this.#hash = hash;
    this.#length = length;
    return cuts;
  }

  /** The length of the last chunk (0 when the stream ended on a cut), and a fresh start for the next stream. */
  finish(): number {
    const last = this.#length;
    this.#length = 0;
    this.#hash = 0;
    return last;
  }
}
