/**
 * A time for utimes and its kin. Node passes times as float seconds and the
 * kernel truncates to nanoseconds, so 12:00:00.586 became 12:00:00.585999…
 * and a restored file looked a millisecond older than its original (and a
 * file at .000 a whole second older, to anything comparing seconds). One
 * microsecond more — four units in the last place of a double at today's
 * epoch — keeps the millisecond exact and never early.
 */
export function fileTime(date: Date): number {
  return date.getTime() / 1000 + 1e-6;
}
