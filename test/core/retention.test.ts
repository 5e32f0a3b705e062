/** Retention as a pure function, over tables of dates: DST changes, month and year boundaries. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyRetention, isoWeek, parseDurationText, type RetentionPolicy } from '../../core/maintenance/retention.js';

const NOW = new Date('2027-01-10T12:00:00Z');

/** Snapshots at the given instants; returns the kept ones (newest first) with their reasons. */
function kept(instants: string[], policy: RetentionPolicy, timeZone = 'UTC', now = NOW): Record<string, string[]> {
  const snapshots = instants.map((createdAt, i) => ({ id: `s${i}`, createdAt }));
  const out: Record<string, string[]> = {};
  for (const d of applyRetention(snapshots, policy, { now, timeZone })) if (d.keep) out[d.snapshot.createdAt] = d.reasons;
  return out;
}

describe('applyRetention', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('an empty policy keeps everything', () => {
    const r = kept(['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'], {});
    expect(Object.values(r)).toEqual([['no retention policy'], ['no retention policy']]);
  });

  it('a snapshot dated in the future is kept and counts for nothing: forged ones cannot push real ones out', () => {
    const future = ['2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z'];
    const r = kept([...future, '2026-05-01T00:00:00Z', '2026-05-02T00:00:00Z'], { keepLast: 2, keepWithin: '2d' });
    expect(r).toEqual({
      '2099-01-02T00:00:00Z': ['dated in the future'],
      '2099-01-01T00:00:00Z': ['dated in the future'],
      '2026-05-02T00:00:00Z': ['last 1/2', 'within 2d of the newest'],
      '2026-05-01T00:00:00Z': ['last 2/2', 'within 2d of the newest'],
    });
  });

  it('keepLast keeps the newest n, whatever their order in the input', () => {
    const r = kept(['2026-05-01T00:00:00Z', '2026-05-03T00:00:00Z', '2026-05-02T00:00:00Z'], { keepLast: 2 });
    expect(r).toEqual({ '2026-05-03T00:00:00Z': ['last 1/2'], '2026-05-02T00:00:00Z': ['last 2/2'] });
  });

  it('only calendar rules make a date formatter: its first use loads ICU data (9 MB of a prune), keepLast needs none', () => {
    const Format = Intl.DateTimeFormat;
    const made = vi.spyOn(Intl, 'DateTimeFormat').mockImplementation(function (this: unknown, ...args) {
      return new Format(...args);
    } as typeof Intl.DateTimeFormat);
    kept(['2026-05-01T00:00:00Z', '2026-05-02T00:00:00Z'], { keepLast: 1, keepWithin: '1d', keepDays: 400 });
    expect(made).not.toHaveBeenCalled();
    kept(['2026-05-01T00:00:00Z', '2026-05-02T00:00:00Z'], { keepLast: 1, keepDaily: 1 });
    expect(made).toHaveBeenCalledTimes(1);
  });

  it('keepDaily keeps the newest snapshot of each of the last n days that have one (days without are skipped)', () => {
    const r = kept(['2026-03-01T08:00:00Z', '2026-03-01T20:00:00Z', '2026-03-03T09:00:00Z', '2026-03-05T01:00:00Z', '2026-03-05T23:00:00Z'], { keepDaily: 3 });
    expect(r).toEqual({
      '2026-03-05T23:00:00Z': ['daily 2026-03-05'],
      '2026-03-03T09:00:00Z': ['daily 2026-03-03'],
      '2026-03-01T20:00:00Z': ['daily 2026-03-01'],
    });
  });

  it('days follow the time zone: 23:30 UTC is the next day in Tokyo', () => {
    const instants = ['2026-06-01T14:00:00Z', '2026-06-01T23:30:00Z'];
    expect(Object.keys(kept(instants, { keepDaily: 5 }, 'UTC'))).toHaveLength(1);
    expect(kept(instants, { keepDaily: 5 }, 'Asia/Tokyo')).toEqual({
      '2026-06-01T23:30:00Z': ['daily 2026-06-02'],
      '2026-06-01T14:00:00Z': ['daily 2026-06-01'],
    });
  });

  it('a 25-hour DST fall-back day is one day; its repeated 01:00 hour is two hours', () => {
    // New York, 2026-11-01: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z), then 23:30 EST the same day.
    const instants = ['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-02T04:30:00Z'];
    const daily = kept(instants, { keepDaily: 7 }, 'America/New_York');
    expect(daily).toEqual({ '2026-11-02T04:30:00Z': ['daily 2026-11-01'] });
    const hourly = kept(instants, { keepHourly: 10 }, 'America/New_York');
    expect(hourly).toEqual({
      '2026-11-02T04:30:00Z': ['hourly 2026-11-01 23h UTC-05:00'],
      '2026-11-01T06:30:00Z': ['hourly 2026-11-01 01h UTC-05:00'],
      '2026-11-01T05:30:00Z': ['hourly 2026-11-01 01h UTC-04:00'],
    });
  });

  it('a 23-hour DST spring-forward day is one day, with no 02:00 hour', () => {
    // Berlin, 2026-03-29: clocks jump 02:00 → 03:00 (01:00Z). 00:30Z is 01:30 CET, 01:30Z is 03:30 CEST.
    const instants = ['2026-03-28T23:30:00Z', '2026-03-29T00:30:00Z', '2026-03-29T01:30:00Z', '2026-03-29T21:30:00Z'];
    expect(kept(instants, { keepDaily: 7 }, 'Europe/Berlin')).toEqual({ '2026-03-29T21:30:00Z': ['daily 2026-03-29'] });
    expect(Object.values(kept(instants, { keepHourly: 3 }, 'Europe/Berlin')).flat()).toEqual([
      'hourly 2026-03-29 23h UTC+02:00',
      'hourly 2026-03-29 03h UTC+02:00',
      'hourly 2026-03-29 01h UTC+01:00',
    ]);
  });

  it('keepMonthly crosses month and year boundaries in local time', () => {
    // 2026-12-31T23:30Z is already January in Berlin, still December in New York.
    const instants = ['2026-11-15T10:00:00Z', '2026-12-10T10:00:00Z', '2026-12-31T23:30:00Z', '2027-01-05T10:00:00Z'];
    expect(kept(instants, { keepMonthly: 3 }, 'Europe/Berlin')).toEqual({
      '2027-01-05T10:00:00Z': ['monthly 2027-01'],
      '2026-12-10T10:00:00Z': ['monthly 2026-12'],
      '2026-11-15T10:00:00Z': ['monthly 2026-11'],
    });
    expect(kept(instants, { keepMonthly: 3 }, 'America/New_York')).toEqual({
      '2027-01-05T10:00:00Z': ['monthly 2027-01'],
      '2026-12-31T23:30:00Z': ['monthly 2026-12'],
      '2026-11-15T10:00:00Z': ['monthly 2026-11'],
    });
  });

  it('keepYearly and keepWeekly use the calendar year and the ISO week', () => {
    const instants = ['2025-06-01T00:00:00Z', '2025-12-31T12:00:00Z', '2026-01-01T12:00:00Z', '2027-01-02T12:00:00Z'];
    expect(kept(instants, { keepYearly: 5 })).toEqual({
      '2027-01-02T12:00:00Z': ['yearly 2027'],
      '2026-01-01T12:00:00Z': ['yearly 2026'],
      '2025-12-31T12:00:00Z': ['yearly 2025'],
    });
    // 2025-12-31 and 2026-01-01 are both in ISO week 2026-W01; 2027-01-02 is in 2026-W53.
    expect(kept(instants, { keepWeekly: 5 })).toEqual({
      '2027-01-02T12:00:00Z': ['weekly 2026-W53'],
      '2026-01-01T12:00:00Z': ['weekly 2026-W01'],
      '2025-06-01T00:00:00Z': ['weekly 2025-W22'],
    });
  });

  it('rules combine: a snapshot lists every rule that keeps it', () => {
    const r = kept(['2026-12-30T10:00:00Z', '2026-12-31T10:00:00Z', '2027-01-01T10:00:00Z'], { keepLast: 1, keepDaily: 2, keepYearly: 2 });
    expect(r).toEqual({
      '2027-01-01T10:00:00Z': ['last 1/1', 'daily 2027-01-01', 'yearly 2027'],
      '2026-12-31T10:00:00Z': ['daily 2026-12-31', 'yearly 2026'],
    });
  });

  it('keepWithin counts from the newest snapshot, in calendar units; keepDays counts from now', () => {
    const instants = ['2026-02-27T00:00:00Z', '2026-02-28T00:00:00Z', '2026-03-31T00:00:00Z'];
    // One month before March 31 is "February 31" = March 3 (restic's AddDate): only March 31 is within.
    expect(Object.keys(kept(instants, { keepWithin: '1m' }))).toEqual(['2026-03-31T00:00:00Z']);
    expect(Object.keys(kept(instants, { keepWithin: '30d' }))).toEqual(['2026-03-31T00:00:00Z']);
    expect(Object.keys(kept(instants, { keepWithin: '31d' }))).toEqual(['2026-03-31T00:00:00Z', '2026-02-28T00:00:00Z']);
    // Backups stopped long ago: keepWithin still keeps the newest, keepDays keeps nothing.
    expect(Object.keys(kept(instants, { keepWithin: '2w' }))).toEqual(['2026-03-31T00:00:00Z']);
    expect(kept(instants, { keepDays: 30 })).toEqual({});
    expect(kept(instants, { keepDays: 2 }, 'UTC', new Date('2026-03-01T12:00:00Z'))).toEqual({
      // Past this `now`: kept, but not as a member of the policy.
      '2026-03-31T00:00:00Z': ['dated in the future'],
      '2026-02-28T00:00:00Z': ['younger than 2 days'],
    });
  });
});

describe('helpers', () => {
  it('parses durations and rejects others', () => {
    expect(parseDurationText('1y6m')).toEqual({ years: 1, months: 6, days: 0, hours: 0 });
    expect(parseDurationText('2w3d12h')).toEqual({ years: 0, months: 0, days: 17, hours: 12 });
    for (const bad of ['', '5', '3d1y', '1 day', '-1d']) expect(parseDurationText(bad)).toBeUndefined();
  });

  it('ISO weeks at year boundaries', () => {
    expect(isoWeek(2026, 12, 31)).toBe('2026-W53');
    expect(isoWeek(2027, 1, 3)).toBe('2026-W53');
    expect(isoWeek(2027, 1, 4)).toBe('2027-W01');
    expect(isoWeek(2024, 12, 30)).toBe('2025-W01');
  });
});
