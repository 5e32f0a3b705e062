/**
 * Crash points for the crash-recovery tests: with FAILSAFE_TEST_CRASH set to
 * `<point>:<n>` (e.g. `stored:3`), the process kills itself with SIGKILL when
 * it reaches that point for the n-th time — a real crash, nothing runs after
 * it. Unset (always, outside tests), a crash point costs one comparison.
 */
const spec = process.env.FAILSAFE_TEST_CRASH;

export function crashPoint(point: string, count = 1): void {
  if (spec !== undefined && spec === `${point}:${count}`) process.kill(process.pid, 'SIGKILL');
}
