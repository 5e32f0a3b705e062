/**
 * Promises still running, to wait for at shutdown: an operation that its
 * caller stopped waiting for (an abort settles a retry at once) may still be
 * clearing up, and closing its connections under it would leave the mess.
 */
export class InFlight {
  readonly #running = new Set<Promise<void>>();

  track<T>(work: Promise<T>): Promise<T> {
    const settled: Promise<void> = work.then(
      () => void this.#running.delete(settled),
      () => void this.#running.delete(settled),
    );
    this.#running.add(settled);
    return work;
  }

  /** Resolves when everything tracked has settled, or after `ms`, whichever is first; never rejects. */
  async settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((done) => (timer = setTimeout(done, ms).unref()));
    await Promise.race([Promise.all(this.#running), elapsed]);
    clearTimeout(timer);
  }
}
