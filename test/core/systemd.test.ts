/** Cron to systemd OnCalendar, and the units around it. */
import { describe, expect, it } from 'vitest';
import { isFailsafeError } from '../../core/errors.js';
import { cronToOnCalendar, systemdUnits } from '../../core/automation/systemd.js';

describe('cronToOnCalendar', () => {
  it.each([
    ['0 2 * * *', '*-*-* 02:00:00'],
    ['30 3 * * 0', 'Sun *-*-* 03:30:00'],
    ['*/15 * * * *', '*-*-* *:0/15:00'],
    ['0 8-18 * * 1-5', 'Mon..Fri *-*-* 08..18:00:00'],
    ['0 0 1,15 * *', '*-*-01,15 00:00:00'],
    ['0 4 1 */3 *', '*-1/3-01 04:00:00'],
    ['*/10 * * * * *', '*-*-* *:*:0/10'],
    ['0 2 * * 7', 'Sun *-*-* 02:00:00'],
  ])('%s → %s', (cron, calendar) => {
    expect(cronToOnCalendar(cron)).toBe(calendar);
  });

  it('adds the time zone, and refuses what systemd would read differently', () => {
    expect(cronToOnCalendar('0 2 * * *', 'Europe/Berlin')).toBe('*-*-* 02:00:00 Europe/Berlin');
    for (const cron of ['0 2 1 * 1', '0 8-18/2 * * *', '@daily', '0 2 * * MON#1']) {
      expect(() => cronToOnCalendar(cron)).toThrow(expect.toSatisfy((e: unknown) => isFailsafeError(e, 'E_USAGE'), 'E_USAGE'));
    }
  });

  it('writes a oneshot service and a persistent timer with the jitter', () => {
    const text = systemdUnits(
      [
        {
          unit: 'failsafe-backup-app',
          description: 'Failsafe backup of app',
          args: ['backup', 'app'],
          cron: '0 2 * * *',
          persistent: true,
          jitterSeconds: 600,
        },
      ],
      {
        command: '/usr/bin/env failsafe',
        config: '/etc/failsafe/my config.yaml',
      },
    );
    expect(text).toContain('# /etc/systemd/system/failsafe-backup-app.service\n[Unit]');
    expect(text).toContain('ExecStart=/usr/bin/env failsafe backup app -c "/etc/failsafe/my config.yaml"');
    expect(text).toContain('\nEnvironment=NODE_OPTIONS=--max-semi-space-size=1\n');
    expect(text).toContain('\nEnvironment=MALLOC_ARENA_MAX=1\n');
    expect(text).toMatch(/OnCalendar=\*-\*-\* 02:00:00\nPersistent=true\nRandomizedDelaySec=600\n/);
  });
});
