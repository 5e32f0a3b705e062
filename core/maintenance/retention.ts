/**
 * Which snapshots a retention policy keeps: a pure function of the snapshot
 * dates, the policy, the time zone and "now", with restic's semantics (see
 * docs/retention.md). Calendar buckets (hour, day, ISO week, month, year) are
 * taken in the policy's time zone, so a 23- or 25-hour DST day is one day;
 * an hour bucket carries its UTC offset, so the repeated hour of a DST
 * fall-back is two hours, as it is on the clock of the world.
 */
import { isFuture } from '../repository/layout.js';
import { compareText } from '../util/order.js';

export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Every snapshot within this duration (`2y6m`, `14d`, `36h`) of the newest snapshot. */
  keepWithin?: string;
  /** Every snapshot younger than this many days, counted from now (the seeds' per-source retention days). */
  keepDays?: number;
}

export interface Dated {
  id: string;
  createdAt: string;
}

export interface RetentionDecision<T extends Dated> {
  snapshot: T;
  keep: boolean;
  /** Every rule that keeps it (`daily 2026-11-20`, `last 1/3`, …); empty when it is removed. */
  reasons: string[];
}

export interface RetentionOptions {
  now: Date;
  /** IANA zone for calendar buckets; the machine's own zone when omitted. */
  timeZone?: string;
}

type BucketRule = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKET_RULES: [BucketRule, keyof RetentionPolicy][] = [
  ['hourly', 'keepHourly'],
  ['daily', 'keepDaily'],
  ['weekly', 'keepWeekly'],
  ['monthly', 'keepMonthly'],
  ['yearly', 'keepYearly'],
];

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return Object.values(policy).every((value) => value === undefined);
}

/**
 * Decides for each snapshot, returned newest first. An empty policy keeps
 * everything. The caller adds its own guards (the last snapshot, locks).
 */
export function applyRetention<T extends Dated>(snapshots: T[], policy: RetentionPolicy, options: RetentionOptions): RetentionDecision<T>[] {
  const sorted = [...snapshots].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || compareText(b.id, a.id));
  const all = sorted.map((snapshot) => ({ snapshot, keep: false, reasons: [] as string[] }));
  const keep = (d: RetentionDecision<T>, reason: string): void => {
    d.keep = true;
    d.reasons.push(reason);
  };
  if (isEmptyPolicy(policy)) {
    for (const d of all) keep(d, 'no retention policy');
    return all;
  }
  // A snapshot dated past the clock is kept and counts for nothing: forged ones must not push real ones out of keepLast or keepWithin.
  const decisions = all.filter((d) => !isFuture(d.snapshot, options.now));
  for (const d of all) if (isFuture(d.snapshot, options.now)) keep(d, 'dated in the future');
  const calendar = new Calendar(options.timeZone);

  if (policy.keepLast !== undefined) decisions.slice(0, policy.keepLast).forEach((d, i) => keep(d, `last ${i + 1}/${policy.keepLast}`));
  for (const [rule, key] of BUCKET_RULES) {
    let remaining = policy[key] as number | undefined;
    if (remaining === undefined) continue;
    let previous: string | undefined;
    for (const d of decisions) {
      if (remaining <= 0) break;
      const bucket = calendar.bucket(rule, new Date(d.snapshot.createdAt));
      if (bucket === previous) continue;
      previous = bucket;
      remaining--;
      keep(d, `${rule} ${bucket}`);
    }
  }
  if (policy.keepWithin !== undefined && decisions.length > 0) {
    const newest = new Date(decisions[0]!.snapshot.createdAt);
    const cutoff = subtractDuration(newest, parseDuration(policy.keepWithin)).getTime();
    for (const d of decisions) if (Date.parse(d.snapshot.createdAt) >= cutoff) keep(d, `within ${policy.keepWithin} of the newest`);
  }
  if (policy.keepDays !== undefined) {
    const cutoff = options.now.getTime() - policy.keepDays * 86_400_000;
    for (const d of decisions) if (Date.parse(d.snapshot.createdAt) >= cutoff) keep(d, `younger than ${policy.keepDays} days`);
  }
  return all;
}

export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

const DURATION = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?$/;

/** `1y6m`, `2w`, `14d`, `36h` (units in this order); undefined when unreadable. */
export function parseDurationText(text: string): Duration | undefined {
  const match = DURATION.exec(text.trim());
  if (!match || text.trim() === '') return undefined;
  const n = (i: number): number => Number(match[i] ?? 0);
  return { years: n(1), months: n(2), days: n(3) * 7 + n(4), hours: n(5) };
}

function parseDuration(text: string): Duration {
  const duration = parseDurationText(text);
  if (!duration) throw new RangeError(`unreadable duration "${text}"`);
  return duration;
}

/** Calendar subtraction (as restic's AddDate): a month back from March 31 is March 3 or 2. */
function subtractDuration(from: Date, d: Duration): Date {
  const out = new Date(from);
  out.setUTCFullYear(out.getUTCFullYear() - d.years, out.getUTCMonth() - d.months, out.getUTCDate() - d.days);
  out.setUTCHours(out.getUTCHours() - d.hours);
  return out;
}

/**
 * Calendar buckets of instants in one time zone. The formatter is made on the
 * first bucket asked for: its first use loads ICU's time-zone and calendar
 * data (9 MB of a prune's peak memory), which a `keepLast` alone never needs.
 */
class Calendar {
  readonly #timeZone: string | undefined;
  #format: Intl.DateTimeFormat | undefined;

  constructor(timeZone?: string) {
    this.#timeZone = timeZone;
  }

  bucket(rule: BucketRule, at: Date): string {
    this.#format ??= new Intl.DateTimeFormat('en-US', {
      ...(this.#timeZone === undefined ? {} : { timeZone: this.#timeZone }),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    const parts = Object.fromEntries(this.#format.formatToParts(at).map((p) => [p.type, p.value]));
    const [y, m, d] = [parts.year!, parts.month!, parts.day!];
    switch (rule) {
      case 'hourly':
        return `${y}-${m}-${d} ${parts.hour}h ${parts.timeZoneName!.replace('GMT', 'UTC')}`;
      case 'daily':
        return `${y}-${m}-${d}`;
      case 'weekly':
        return isoWeek(Number(y), Number(m), Number(d));
      case 'monthly':
        return `${y}-${m}`;
      case 'yearly':
        return y;
    }
  }
}

/** ISO 8601 week of a calendar date: `2026-W53`; the week belongs to the year of its Thursday. */
export function isoWeek(year: number, month: number, day: number): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 + 1) / 7);
  return `${weekYear}-W${String(week).padStart(2, '0')}`;
}
