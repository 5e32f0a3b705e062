/**
 * Runs tasks in the background, at most `limit` at once: `add` waits for a
 * free slot, `drain` for all of them. The first failure is kept and thrown
 * by the next `add` or by `drain`; `drain` and `settle` wait for every task
 * in flight, so no promise outlives its owner.
 */
export class BoundedTasks {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #error: unknown;
  #failed = false;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async add(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    this.#throwIfFailed();
    const running: Promise<void> = task()
      .catch((err: unknown) => {
        if (!this.#failed) [this.#failed, this.#error] = [true, err];
      })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#running);
    this.#throwIfFailed();
  }

  /** Waits for every task in flight without throwing: for a caller already failing. */
  async settle(): Promise<void> {
    await Promise.all(this.#running);
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#error;
  }
}
