/**
 * An object-mode Transform that runs an async function on up to
 * `concurrency` items at once and emits results in input order. No promise
 * outlives the stream: on error it waits for the ones in flight to settle.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class ParallelMap<In, Out> extends Transform {
  readonly #fn: (item: In) => Promise<Out>;
  readonly #concurrency: number;
  readonly #queue: Promise<Out>[] = [];

  constructor(concurrency: number, fn: (item: In) => Promise<Out>) {
    super({ objectMode: true, highWaterMark: 0 });
    this.#fn = fn;
    this.#concurrency = Math.max(1, concurrency);
  }

  override _transform(item: In, _encoding: BufferEncoding, callback: TransformCallback): void {
    const running = this.#fn(item);
    running.catch(() => undefined); // observed in order below; avoid an unhandled rejection meanwhile
    this.#queue.push(running);
    if (this.#queue.length < this.#concurrency) {
      callback();
      return;
    }
    this.#shift().then(
      () => callback(),
      (err: Error) => this.#fail(err, callback),
    );
  }

  override _flush(callback: TransformCallback): void {
    const drain = async (): Promise<void> => {
      while (this.#queue.length > 0) await this.#shift();
    };
    drain().then(
      () => callback(),
      (err: Error) => this.#fail(err, callback),
    );
  }

  async #shift(): Promise<void> {
    const head = this.#queue.shift();
    if (head !== undefined) this.push(await head);
  }

  #fail(err: Error, callback: TransformCallback): void {
    const pending = this.#queue.splice(0);
    void Promise.allSettled(pending).then(() => callback(err));
  }
}
