/**
 * Periodic backups inside an application's own process (the seeds'
 * start_auto_backup). Runs never overlap: the next one is planned when the
 * previous ends, `every` after the previous start (at once when a run took
 * longer). Failures are reported through a callback, never as an unhandled
 * rejection. The timer does not keep the process alive unless asked.
 */
export interface AutoBackupOptions {
  /** Run once at once instead of after the first interval. */
  immediately?: boolean;
  /** Keep the process alive while scheduled (default: false, the app decides when it ends). */
  keepAlive?: boolean;
}

export class AutoBackup {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #controller: AbortController | undefined;
  #stopped = false;

  constructor(
    private readonly run: (signal: AbortSignal) => Promise<void>,
    private readonly every: number,
    private readonly options: AutoBackupOptions = {},
  ) {
    this.#schedule(options.immediately ? 0 : every);
  }

  /** True while a run is in progress. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** No more runs; resolves when the current run (cancelled with `cancel`) has ended. */
  async stop(options: { cancel?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (options.cancel) this.#controller?.abort();
    await this.#running;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#tick(), delay);
    if (!this.options.keepAlive) this.#timer.unref();
  }

  #tick(): void {
    const started = Date.now();
    this.#controller = new AbortController();
    this.#running = this.run(this.#controller.signal)
      .catch(() => undefined) // run() reports its own failures
      .finally(() => {
        this.#running = undefined;
        this.#schedule(Math.max(0, started + this.every - Date.now()));
      });
  }
}
