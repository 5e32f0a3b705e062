/** Time-outs as a user writes them (`--timeout`), and the messages that count what happened (core/repository/timeouts.ts). */
import { describe, expect, it } from 'vitest';
import { waitingText } from '../../core/repository/retry-counts.js';
import { describeGivingUp, formatLimit, parseDurationMs, parseTimeouts } from '../../core/repository/timeouts.js';

describe('time-outs', () => {
  it('reads durations in ms, s, m and h, combined', () => {
    expect([parseDurationMs('500ms'), parseDurationMs('30s'), parseDurationMs('1m30s'), parseDurationMs('2h'), parseDurationMs('1.5s')]).toEqual([
      500, 30_000, 90_000, 7_200_000, 1500,
    ]);
    for (const bad of ['', '30', 's', '0s', '30 s', '-1s', '1d']) expect(parseDurationMs(bad)).toBeUndefined();
  });

  it('reads --timeout in any order and refuses anything else with E_USAGE', () => {
    expect(parseTimeouts('idle=30s,connect=10s,operation=2h')).toEqual({ idleMs: 30_000, connectMs: 10_000, operationMs: 7_200_000 });
    expect(parseTimeouts('connect=5s')).toEqual({ connectMs: 5000 });
    for (const bad of ['idle', 'idle=', 'idle=30', 'wait=1s', 'idle=1s=2s', 'idle=1s,']) {
      expect(() => parseTimeouts(bad)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    }
    expect(() => parseTimeouts('idle=1x')).toThrow(/"idle=1x" is not a time-out/);
  });

  it('counts what every try met when it gives up', () => {
    expect(describeGivingUp({ tries: 4, stalls: 4, idleMs: 30_000, connects: 0, connectMs: 5000 })).toBe(
      'gave up after 4 tries: the connection stalled 4 times, 30 s each without a byte',
    );
    expect(describeGivingUp({ tries: 4, stalls: 1, idleMs: 30_000, connects: 3, connectMs: 20_000 })).toBe(
      'gave up after 4 tries: the connection stalled once, 30 s without a byte, and connecting timed out 3 times (20 s each)',
    );
    expect(describeGivingUp({ tries: 2, stalls: 0, idleMs: 1, connects: 0, connectMs: 1 })).toBeUndefined();
    expect([formatLimit(500), formatLimit(1500), formatLimit(300_000), formatLimit(7_200_000)]).toEqual(['500 ms', '1.5 s', '5 min', '2 h']);
  });

  it('says in the progress line what it waits for', () => {
    expect(waitingText({ kind: 'uploads', stalled: true, attempt: { number: 1, of: 4, stalledMs: 12_000 } }, formatLimit)).toBe(
      'waiting for the target (stalled 12 s, try 2 of 4)',
    );
    expect(waitingText({ kind: 'resumed', stalled: false }, formatLimit)).toBe('waiting for the target (connection lost)');
  });
});
