/**
 * Ctrl-C and SIGTERM (what systemd sends to stop a unit) during a long command: the first one cancels the
 * operation through its AbortSignal, so that it ends the way any failure does — `after` and `onError` hooks run,
 * locks are released, the backup journal keeps what was stored — and reports E_ABORTED. A second one is not
 * caught: the process ends at once, for the user who will not wait for that.
 */
import { FailsafeError } from '../core/errors.js';
import type { Io } from './output.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface Cancellation {
  signal: AbortSignal;
  /** The signal that cancelled the operation, once one did. */
  received(): string | undefined;
  /** Stops listening; signals are the default again (they end the process). */
  dispose(): void;
}

export function cancelOnSignals(io: Io, what: string): Cancellation {
  const controller = new AbortController();
  let received: string | undefined;
  const handlers = SIGNALS.map((name) => {
    const handler = (): void => {
      received = name;
      dispose();
      io.stderr.write(`${name}: cancelling ${what} (hooks run, locks are released); send it again to quit at once\n`);
      controller.abort(new FailsafeError('E_ABORTED', `${what} cancelled by ${name}`));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  const dispose = (): void => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
  return { signal: controller.signal, received: () => received, dispose };
}
