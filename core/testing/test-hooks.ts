/**
 * Crash tests need a command stopped at an exact point: with
 * FAILSAFE_TEST_PAUSE_AT=<point> (or `<point>:<n>` for the n-th time a
 * counted point is reached) the process announces the point on stderr and
 * then waits, for the test to kill it with SIGKILL from outside (or to send a
 * signal that cancels the operation through `signal`). Unset (always,
 * outside tests) this costs one environment lookup. The points are listed
 * per command in core/testing/crash-points.ts.
 */
import { armedName, tracePoint, type CrashPointName } from './crash-points.js';

export async function pauseForTest(point: CrashPointName, options: { count?: number; signal?: AbortSignal } = {}): Promise<void> {
  tracePoint(point);
  const name = armedName(point, options.count);
  if (process.env.FAILSAFE_TEST_PAUSE_AT !== name) return;
  process.stderr.write(`failsafe-test: paused at ${name}\n`);
  const { signal } = options;
  await new Promise<void>((_resolve, reject) => {
    const timer = setInterval(() => undefined, 60_000);
    signal?.addEventListener('abort', () => {
      clearInterval(timer);
      reject(signal.reason as Error);
    });
  });
}
