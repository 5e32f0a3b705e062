/**
 * Crash tests need a restore stopped at an exact point: with
 * FAILSAFE_TEST_PAUSE_AT=<point> the process announces the point on stderr
 * and then waits forever, for the test to kill it with SIGKILL. Unset (always,
 * outside tests) this costs one environment lookup.
 */
export async function pauseForTest(point: string): Promise<void> {
  if (process.env.FAILSAFE_TEST_PAUSE_AT !== point) return;
  process.stderr.write(`failsafe-test: paused at ${point}\n`);
  await new Promise<void>(() => setInterval(() => undefined, 60_000));
}
