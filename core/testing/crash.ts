/**
 * Crash points for the crash-recovery tests: with FAILSAFE_TEST_CRASH set to
 * `<point>:<n>` (e.g. `stored:3`), the process kills itself with SIGKILL when
 * it reaches that point for the n-th time — a real crash, nothing runs after
 * it. Unset (always, outside tests), a crash point costs one comparison. The
 * points are listed per command in core/testing/crash-points.ts.
 */
import { armedName, tracePoint, type CrashPointName } from './crash-points.js';

const spec = process.env.FAILSAFE_TEST_CRASH;

export function crashPoint(point: CrashPointName, count = 1): void {
  tracePoint(point);
  if (spec !== undefined && spec === armedName(point, count)) process.kill(process.pid, 'SIGKILL');
}
