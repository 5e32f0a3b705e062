/**
 * `failsafe schedule --systemd`: the same schedules as the daemon, as
 * systemd service and timer units. Cron fields are translated to OnCalendar;
 * what systemd cannot say the same way (a day of month and a weekday
 * together, which cron ORs and systemd ANDs; stepped ranges) is refused.
 */
import { FailsafeError } from '../errors.js';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export interface TimerSpec {
  /** Unit base name: `failsafe-backup-app`. */
  unit: string;
  description: string;
  /** Arguments after the command: `backup app`. */
  args: string[];
  cron: string;
  persistent: boolean;
  jitterSeconds: number;
}

export function cronToOnCalendar(cron: string, timeZone?: string): string {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) throw unsupported(cron, 'expected 5 fields (or 6 with seconds)');
  const [second, minute, hour, dom, month, dow] = (fields.length === 6 ? fields : ['0', ...fields]) as [string, string, string, string, string, string];
  if (dom !== '*' && dom !== '?' && dow !== '*' && dow !== '?') throw unsupported(cron, 'a day of month and a weekday together');
  const part = (value: string, stepStart: string): string =>
    value
      .split(',')
      .map((item) => {
        if (item === '*' || item === '?') return '*';
        const step = /^\*\/(\d+)$/.exec(item);
        if (step) return `${stepStart}/${step[1]}`;
        const range = /^(\d+)-(\d+)$/.exec(item);
        if (range) return `${range[1]!.padStart(2, '0')}..${range[2]!.padStart(2, '0')}`;
        if (/^\d+$/.test(item)) return item.padStart(2, '0');
        throw unsupported(cron, `"${item}"`);
      })
      .join(',');
  const days =
    dow === '*' || dow === '?'
      ? ''
      : `${dow
          .split(',')
          .map((item) => {
            const range = /^([0-7])-([0-7])$/.exec(item);
            if (range) return `${WEEKDAYS[Number(range[1])]}..${WEEKDAYS[Number(range[2])]}`;
            if (/^[0-7]$/.test(item)) return WEEKDAYS[Number(item)];
            throw unsupported(cron, `weekday "${item}"`);
          })
          .join(',')} `;
  const calendar = `${days}*-${part(month, '1')}-${part(dom, '1')} ${part(hour, '0')}:${part(minute, '0')}:${part(second, '0')}`;
  return timeZone ? `${calendar} ${timeZone}` : calendar;
}

function unsupported(cron: string, what: string): FailsafeError {
  return new FailsafeError('E_USAGE', `cron "${cron}" cannot be written as a systemd OnCalendar (${what}); write that timer by hand or use failsafe daemon`);
}

/** Service and timer units, each preceded by the path it goes to. */
export function systemdUnits(
  specs: TimerSpec[],
  options: {
    /** The failsafe command, written as is. */
    command: string;
    config: string;
    timeZone?: string;
  },
): string {
  const quote = (arg: string): string => (/^[A-Za-z0-9_./:@-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`);
  return specs
    .map((spec) => {
      // The command is written as given (it may be `/usr/bin/env failsafe`); arguments are quoted.
      const exec = [options.command, ...[...spec.args, '-c', options.config].map(quote)].join(' ');
      const service = `[Unit]
Description=${spec.description}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${exec}
# A small young generation for V8 and one malloc arena: ~35 MB less at peak, no slower
# (docs/performance.md); the failsafe command sets both itself, this is for a command that
# starts node on bin/failsafe.js
Environment=NODE_OPTIONS=--max-semi-space-size=1
Environment=MALLOC_ARENA_MAX=1
Nice=10
IOSchedulingClass=idle
`;
      const timer = `[Unit]
Description=${spec.description} (schedule)

[Timer]
OnCalendar=${cronToOnCalendar(spec.cron, options.timeZone)}
Persistent=${spec.persistent ? 'true' : 'false'}
${spec.jitterSeconds > 0 ? `RandomizedDelaySec=${spec.jitterSeconds}\n` : ''}
[Install]
WantedBy=timers.target
`;
      return `# /etc/systemd/system/${spec.unit}.service\n${service}\n# /etc/systemd/system/${spec.unit}.timer\n${timer}`;
    })
    .join('\n');
}
