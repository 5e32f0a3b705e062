/**
 * Reads a restore's chunks ahead, in the order it will ask for them: a
 * chunk is a ranged read, a decryption, a decompression and a keyed hash,
 * and one at a time leaves the disk or the network idle while the CPU works
 * and the other way round. Positions are global across the entries being
 * restored, so small files (one chunk each) overlap as well as the chunks
 * of a large one. At most `ahead` chunks are in flight or waiting, so
 * memory stays bounded by `ahead` × the largest chunk (4 MiB).
 */
export class ChunkPrefetch {
  readonly #pending = new Map<number, Promise<Buffer>>();
  #next = 0;

  constructor(
    private readonly ids: readonly Buffer[],
    private readonly read: (id: Buffer) => Promise<Buffer>,
    private readonly ahead = 8,
  ) {}

  /** The chunk at `position`; positions are asked in increasing order, and any skipped are dropped. */
  get(position: number): Promise<Buffer> {
    for (const at of this.#pending.keys()) if (at < position) this.#pending.delete(at);
    this.#next = Math.max(this.#next, position);
    while (this.#next < this.ids.length && this.#next < position + this.ahead) {
      const promise = this.read(this.ids[this.#next]!);
      // A dropped read may fail unobserved; the one asked for is awaited by its caller.
      promise.catch(() => undefined);
      this.#pending.set(this.#next++, promise);
    }
    const wanted = this.#pending.get(position) ?? this.read(this.ids[position]!);
    this.#pending.delete(position);
    return wanted;
  }
}
