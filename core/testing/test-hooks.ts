/**
 * Crash tests need a command stopped at an exact point: with
 * FAILSAFE_TEST_PAUSE_AT=<point> the process announces the point on stderr
 * and then waits, for the test to kill it with SIGKILL from outside (or to
 * send a signal that cancels the operation through `signal`). Unset (always,
 * outside tests) this costs one environment lookup.
 */
export async function pauseForTest(point: string, signal?: AbortSignal): Promise<void> {
  if (process.env.FAILSAFE_TEST_PAUSE_AT !== point) return;
  process.stderr.write(`failsafe-test: paused at ${point}\n`);
  await new Promise<void>((_resolve, reject) => {
    const timer = setInterval(() => undefined, 60_000);
    signal?.addEventListener('abort', () => {
      clearInterval(timer);
      reject(signal.reason as Error);
    });
  });
}
