/**
 * A counting semaphore over segments alive in the backup pipeline: the
 * segmenter takes a permit before it emits a segment, the store stage gives
 * it back once the segment is stored everywhere. However the stages in
 * between buffer, no more than `size` segments exist at once, so memory is
 * bounded by size × segment size whatever the data size.
 */
export class SegmentWindow {
  #free: number;
  readonly #waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #cancelled: Error | undefined;

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  acquire(): Promise<void> {
    if (this.#cancelled) return Promise.reject(this.#cancelled);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#free++;
  }

  /** Fails every waiting and future acquire, so nothing stays pending after the pipeline fails. */
  cancel(reason: Error): void {
    this.#cancelled ??= reason;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#cancelled);
  }
}
