/**
 * Threads started before the work that needs them. A worker takes 40-80 ms
 * to start and load its modules; a restore knows it will need its threads
 * long before it has read the manifest and planned, so it starts them first
 * and the pools take them when they are built (`takeSpare`), instead of the
 * first segment waiting for them.
 *
 * A spare does not keep the process alive, and whatever its taker is, it is
 * told what to do by message, never by workerData. Spares nobody took are
 * stopped by `dropSpares`; one that fails to start is forgotten.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

const spares = new Map<string, Worker[]>();

/** Starts threads of `file` until `count` are waiting; `options` must be those its taker would use. */
export function startSpares(file: URL, count: number, options: WorkerOptions = {}): void {
  const waiting = spares.get(file.href) ?? [];
  spares.set(file.href, waiting);
  while (waiting.length < count) {
    const worker = new Worker(file, options);
    worker.unref();
    const forget = (): void => {
      const at = waiting.indexOf(worker);
      if (at >= 0) waiting.splice(at, 1);
    };
    // Until taken, a failure only means it is not there to take: the taker starts its own.
    worker.once('error', forget);
    worker.once('exit', forget);
    waiting.push(worker);
  }
}

/** A started thread of `file`, keeping the process alive again, or undefined when none waits. */
export function takeSpare(file: URL): Worker | undefined {
  const worker = spares.get(file.href)?.shift();
  if (!worker) return undefined;
  worker.removeAllListeners('error').removeAllListeners('exit');
  worker.ref();
  return worker;
}

/** Stops the spares of `file`: a run found it will not need them (a format-2 restore hashes no whole files). */
export async function dropSparesOf(file: URL): Promise<void> {
  await Promise.all((spares.get(file.href)?.splice(0) ?? []).map((worker) => worker.terminate()));
}

/** Stops every spare nobody took. */
export async function dropSpares(): Promise<void> {
  const all = [...spares.values()].flatMap((waiting) => waiting.splice(0));
  await Promise.all(all.map((worker) => worker.terminate()));
}

/** How many threads of `file` wait (for tests). */
export function sparesOf(file: URL): number {
  return spares.get(file.href)?.length ?? 0;
}
