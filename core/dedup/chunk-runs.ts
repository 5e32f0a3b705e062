/**
 * A restore's chunks read ahead, in the order it will ask for them, as runs:
 * consecutive chunks (of any packs) whose plaintexts fit together in one of
 * a fixed set of shared buffers ("slots"), opened in one worker request
 * (ChunkReader.readRun), which reads chunks lying one after another in a
 * pack in one piece. A chunk at a time cost a message each way, a plaintext
 * allocation and its collection per chunk: 5× format 1's restore
 * (docs/performance.md).
 *
 * Memory is bounded by the slots (`slots` × RUN_SLOT_BYTES) plus one chunk
 * larger than a slot at a time, read on its own. A chunk `get` hands out is
 * a view of its slot, valid until a later position is asked for: its slot
 * goes back to the pool then (once its read has settled), and is overwritten.
 */
import { FailsafeError } from '../errors.js';
import type { ChunkPlace, ChunkReader } from '../pack/chunk-reader.js';
import type { SegmentWorkers } from '../pipeline/segment-workers.js';

/** A slot's size: the largest chunk the chunker cuts (core/chunking/fastcdc.ts), so any such chunk fits alone. */
export const RUN_SLOT_BYTES = 4 * 1024 * 1024;
/** A run's sealed bytes at most: the worker's read buffer grows to them. */
const MAX_SEALED = RUN_SLOT_BYTES + 1024 * 1024;

interface Run {
  /** The position of its first chunk, and how many it holds. */
  first: number;
  count: number;
  /** Its slot; none for a chunk larger than a slot, read on its own. */
  slot?: number;
  done: Promise<Buffer[]>;
}

export class ChunkRuns {
  readonly #ids: readonly Buffer[];
  readonly #reader: ChunkReader;
  readonly #workers: SegmentWorkers;
  readonly #signal: AbortSignal | undefined;
  readonly #buffers: Buffer[];
  readonly #free: number[];
  readonly #waiting: ((slot: number) => void)[] = [];
  /** Runs started and not yet released, in order. */
  readonly #runs: Run[] = [];
  /** Positions in started runs. */
  #started = 0;
  /** Positions placed in runs (some perhaps still waiting for a slot). */
  #planned = 0;
  /** Located and not yet in a run: the start of the next one. */
  #next: ChunkPlace | undefined;
  /** The latest position asked for: runs wholly behind it are released, and not read at all when not yet started. */
  #wanted = 0;
  #chain: Promise<void> = Promise.resolve();
  #filling = false;

  constructor(ids: readonly Buffer[], reader: ChunkReader, workers: SegmentWorkers, options: { slots?: number; signal?: AbortSignal | undefined } = {}) {
    this.#ids = ids;
    this.#reader = reader;
    this.#workers = workers;
    this.#signal = options.signal;
    const slots = Math.max(2, options.slots ?? 4);
    const shared = Array.from({ length: slots }, () => new SharedArrayBuffer(RUN_SLOT_BYTES));
    this.#buffers = shared.map((buffer) => Buffer.from(buffer));
    this.#free = shared.map((_, i) => i).reverse();
    workers.shareRestoring({ slots: shared, idKey: Uint8Array.from(reader.keys.idKey) });
  }

  /** The chunk at `position`; positions are asked in increasing order, and any skipped are dropped. */
  async get(position: number): Promise<Buffer> {
    if (position >= this.#ids.length) throw new RangeError(`no chunk at position ${position}`);
    this.#wanted = Math.max(this.#wanted, position);
    // Runs wholly behind go back first: the run asked for may need one of their slots.
    this.#releaseBehind();
    while (this.#started <= position) await this.#step();
    this.#fill();
    const run = this.#runs.find((r) => position < r.first + r.count)!;
    const chunks = await run.done;
    return chunks[position - run.first]!;
  }

  /** Starts the next run, after any being started. */
  #step(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#startNext());
    return this.#chain;
  }

  /** Keeps as many runs started as there are slots, in the background (a failure shows when its position is asked for). */
  #fill(): void {
    if (this.#filling) return;
    this.#filling = true;
    void (async (): Promise<void> => {
      try {
        while (this.#runs.length < this.#buffers.length && this.#planned < this.#ids.length) await this.#step();
      } catch {
        // The position that needs the failed run gets the failure from `get`'s own step.
      } finally {
        this.#filling = false;
      }
    })();
  }

  async #startNext(): Promise<void> {
    if (this.#planned >= this.#ids.length) return;
    const first = this.#planned;
    const places = await this.#plan();
    const options = { workers: this.#workers, ...(this.#signal ? { signal: this.#signal } : {}) };
    let run: Run;
    if (first + places.length <= this.#wanted) {
      // Skipped before it was read (a hard link's or a filtered entry's chunks, say).
      this.#started = first + places.length;
      return;
    }
    if (places[0]!.plainLength > RUN_SLOT_BYTES) {
      run = { first, count: 1, done: this.#reader.read(places[0]!.id, options).then((chunk) => [chunk]) };
    } else {
      // A slot waited for here comes back from a run behind the position asked for: release those first.
      this.#releaseBehind();
      const slot = await this.#acquire();
      const buffer = this.#buffers[slot]!;
      const done = this.#reader.readRun(places, { slot, buffer }, options).then((lengths) => views(buffer, lengths, places.length));
      run = { first, count: places.length, slot, done };
    }
    // A run read ahead may fail unobserved; the one asked for is awaited by its caller.
    run.done.catch(() => undefined);
    this.#runs.push(run);
    this.#started = first + run.count;
  }

  /** The places of the next run: consecutive chunks whose plaintexts fit a slot together. */
  async #plan(): Promise<ChunkPlace[]> {
    const options = this.#signal ? { signal: this.#signal } : {};
    const places: ChunkPlace[] = [];
    let plain = 0;
    let sealed = 0;
    while (this.#planned < this.#ids.length) {
      const place = this.#next ?? (await this.#reader.locate(this.#ids[this.#planned]!, options));
      this.#next = undefined;
      if (places.length > 0 && (plain + place.plainLength > RUN_SLOT_BYTES || sealed + place.length > MAX_SEALED)) {
        this.#next = place;
        break;
      }
      places.push(place);
      plain += place.plainLength;
      sealed += place.length;
      this.#planned++;
      if (plain > RUN_SLOT_BYTES) break;
    }
    return places;
  }

  #acquire(): Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Runs wholly behind the position asked for give their slots back, each once its read has settled (a worker may still be writing into it). */
  #releaseBehind(): void {
    while (this.#runs.length > 0 && this.#runs[0]!.first + this.#runs[0]!.count <= this.#wanted) {
      const { slot, done } = this.#runs.shift()!;
      if (slot === undefined) continue;
      const giveBack = (): void => {
        const next = this.#waiting.shift();
        if (next) next(slot);
        else this.#free.push(slot);
      };
      done.then(giveBack, giveBack);
    }
  }
}

/** The run's plaintexts, one after another in its slot. */
function views(buffer: Buffer, lengths: Uint32Array, count: number): Buffer[] {
  if (lengths.length !== count) throw new FailsafeError('E_INTERNAL', `a run of ${count} chunks came back with ${lengths.length}`);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const length of lengths) {
    chunks.push(buffer.subarray(at, at + length));
    at += length;
  }
  return chunks;
}
