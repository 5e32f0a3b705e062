/**
 * Cuts files into chunks straight into a few reusable buffers of shared
 * memory, so the worker threads hash and seal a chunk where it lies: no copy
 * per thread hop, and no fresh multi-megabyte allocation per chunk (whose
 * page faults cost more than the copy). A file's reading goes on while its
 * earlier chunks — and the chunks of the files before it — are in the
 * workers; only the slots bound what is in flight, so memory stays at
 * `count` × the largest chunk whatever the data size.
 */
import type { Readable } from 'node:stream';
import type { FastCdc } from '../chunking/fastcdc.js';

export interface Slot {
  /** Which of `ChunkSlots.shared` it is. */
  index: number;
  buffer: Buffer;
  release(): void;
}

export class ChunkSlots {
  readonly shared: SharedArrayBuffer[] = [];
  readonly #buffers: Buffer[] = [];
  readonly #free: number[] = [];
  readonly #waiting: ((slot: number) => void)[] = [];
  /** The first failure of a chunk in flight: the next `take` throws it, so a failed run stops reading. */
  #failed: unknown;

  constructor(
    readonly size: number,
    count: number,
  ) {
    for (let i = 0; i < count; i++) {
      this.shared.push(new SharedArrayBuffer(size));
      this.#buffers.push(Buffer.from(this.shared[i]!));
      this.#free.push(i);
    }
  }

  /** A free slot, once one is. */
  async take(): Promise<Slot> {
    if (this.#failed !== undefined) throw this.#failed;
    const index = this.#free.pop() ?? (await new Promise<number>((resolve) => this.#waiting.push(resolve)));
    if (this.#failed !== undefined) {
      this.#give(index);
      throw this.#failed;
    }
    let released = false;
    return {
      index,
      buffer: this.#buffers[index]!,
      release: () => {
        if (!released) this.#give(index);
        released = true;
      },
    };
  }

  fail(err: unknown): void {
    this.#failed ??= err;
  }

  #give(index: number): void {
    const next = this.#waiting.shift();
    if (next) next(index);
    else this.#free.push(index);
  }
}

/** Takes a chunk (the first `length` bytes of its slot, which it must release) and resolves with its id. */
export type ChunkTaker = (slot: Slot, length: number) => Promise<Buffer>;

/**
 * Reads `stream` to its end, cutting it with `cdc` into slots handed to
 * `take`; resolves once the stream is read, with the chunk ids to come (in
 * file order) and the byte count. A chunk never exceeds the chunker's
 * maximum, which must not exceed the slots' size.
 */
export async function chunkIntoSlots(stream: Readable, cdc: FastCdc, slots: ChunkSlots, take: ChunkTaker): Promise<{ ids: Promise<Buffer[]>; bytes: number }> {
  const ids: Promise<Buffer>[] = [];
  let slot = await slots.take();
  let filled = 0;
  let bytes = 0;
  try {
    const emit = async (length: number): Promise<void> => {
      const id = take(slot, length);
      id.catch((err: unknown) => slots.fail(err));
      ids.push(id);
      slot = await slots.take();
      filled = 0;
    };
    for await (const piece of stream as AsyncIterable<Buffer>) {
      bytes += piece.length;
      let offset = 0;
      for (const length of cdc.push(piece)) {
        const need = length - filled;
        piece.copy(slot.buffer, filled, offset, offset + need);
        filled = length;
        offset += need;
        await emit(length);
      }
      piece.copy(slot.buffer, filled, offset);
      filled += piece.length - offset;
    }
    const last = cdc.finish();
    if (last > 0) {
      const id = take(slot, last);
      id.catch((err: unknown) => slots.fail(err));
      ids.push(id);
    } else slot.release();
  } catch (err) {
    slot.release();
    throw err;
  }
  const all = Promise.all(ids);
  all.catch(() => undefined);
  return { ids: all, bytes };
}
