/**
 * Crash tests need a command stopped at an exact point: with
 * FAILSAFE_TEST_PAUSE_AT=<point> (its first time) or `<point>:<n>` (the n-th
 * time this process reaches it) the process announces the point on stderr
 * and then waits, for the test to kill it with SIGKILL from outside (or to
 * send a signal that cancels the operation through `signal`). Unset (always,
 * outside tests) this costs one environment lookup. The points are listed
 * per command in core/testing/crash-points.ts.
 */
import { tracePoint, type CrashPointName } from './crash-points.js';

const reached = new Map<CrashPointName, number>();

export async function pauseForTest(point: CrashPointName, signal?: AbortSignal): Promise<void> {
  const armed = process.env.FAILSAFE_TEST_PAUSE_AT;
  if (armed === undefined && process.env.FAILSAFE_TEST_TRACE === undefined) return;
  tracePoint(point);
  const times = (reached.get(point) ?? 0) + 1;
  reached.set(point, times);
  if (armed === undefined || (armed !== `${point}:${times}` && !(armed === point && times === 1))) return;
  process.stderr.write(`failsafe-test: paused at ${armed}\n`);
  await new Promise<void>((_resolve, reject) => {
    const timer = setInterval(() => undefined, 60_000);
    signal?.addEventListener('abort', () => {
      clearInterval(timer);
      reject(signal.reason as Error);
    });
  });
}
