/** `failsafe daemon` (every schedule in one process) and `failsafe schedule --systemd` (the same as systemd units). */
import { resolve } from 'node:path';
import { asFailsafeError, FailsafeError } from '../../core/errors.js';
import type { Failsafe } from '../../api/failsafe.js';
import type { HeldDaemonLock } from '../../core/automation/daemon-lock.js';
import type { SchedulerEvent } from '../../core/automation/scheduler.js';
import type { TimerSpec } from '../../core/automation/systemd.js';
import type { FailsafeConfig } from '../../core/config/schema.js';
import type { UiServer } from '../../ui/server.js';
import type { CommandContext, CommonOptions } from '../context.js';

interface DaemonOptions extends CommonOptions {
  insecureListen?: boolean;
}

interface ScheduleOptions extends CommonOptions {
  systemd?: boolean;
  exec: string;
}

const NOTHING_TO_SCHEDULE = 'nothing to schedule: give a job a schedule (or set schedules.prune / schedules.drill)';

export function registerDaemon(context: CommandContext): void {
  context
    .command('daemon', "run every job's backup on its schedule, and prune and drill on theirs, until SIGTERM or SIGINT")
    .option('--insecure-listen', "let the dashboard of the YAML's ui: listen on an address other than loopback, over plain HTTP")
    .action((options: DaemonOptions) => runDaemon(context, options));

  context
    .command('schedule', 'print the schedules as systemd service and timer units')
    .option('--systemd', 'systemd units (the only format for now)')
    .option('--exec <command>', 'the failsafe command in ExecStart', '/usr/bin/env failsafe')
    .action((options: ScheduleOptions) => printSchedule(context, options));
}

async function runDaemon({ open, io }: CommandContext, options: DaemonOptions): Promise<void> {
  const failsafe = await open(options);
  const log = (line: string): void => void io.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let ui: UiServer | undefined;
  let lock: HeldDaemonLock | undefined;
  try {
    // The deployment's scheduler runs on the clock its container chose (api/container.ts).
    const scheduler = await failsafe.scheduler({ warn: (message) => log(`warning: ${message}`), onEvent: (event) => log(describe(event)) });
    if (scheduler.tasks.length === 0) throw new FailsafeError('E_USAGE', NOTHING_TO_SCHEDULE);
    // One daemon per configuration (its state file): a second one would run every schedule twice.
    const { acquireDaemonLock } = await import('../../core/automation/daemon-lock.js');
    lock = await acquireDaemonLock(`${failsafe.config.config.stateFile}.lock`, (message) => log(`warning: ${message}`));
    // Before anything runs: an address in use or refused stops the daemon at once.
    ui = await serveDashboard(failsafe, options, log);
    const { stopping, stopped } = untilSignal();
    await recoverAtStart(failsafe, log, stopping.signal);
    if (!stopping.signal.aborted) await scheduler.start();
    log(`daemon started: ${scheduler.tasks.join(', ')}`);
    const signal = await stopped;
    log(`${signal}: stopping${scheduler.running.length > 0 ? `, cancelling ${scheduler.running.join(', ')}` : ''}`);
    await ui?.close();
    ui = undefined;
    await scheduler.stop();
    log('daemon stopped');
  } finally {
    await ui?.close();
    await lock?.release();
    await failsafe.close();
  }
}

/** With `ui:` in the YAML the daemon serves the dashboard too; its address and token go to the daemon's log, read by whoever may run it. */
async function serveDashboard(failsafe: Failsafe, options: DaemonOptions, log: (line: string) => void): Promise<UiServer | undefined> {
  const config = failsafe.config.config.ui;
  if (config === undefined) return undefined;
  const { startUi, uiSecurity } = await import('../../ui/server.js');
  const ui = await startUi(failsafe, {
    listen: config.listen,
    ...uiSecurity(config),
    insecureListen: options.insecureListen === true,
    warn: (message) => log(`warning: ${message}`),
  });
  log(`dashboard: ${ui.url}#token=${ui.token}`);
  return ui;
}

/** The first SIGTERM or SIGINT aborts `stopping` (so a start-up recovery stops too) and settles `stopped` with its name. */
export function untilSignal(): { stopping: AbortController; stopped: Promise<string> } {
  const stopping = new AbortController();
  const stopped = new Promise<string>((done) => {
    const stop = (signal: string) => (): void => {
      stopping.abort();
      done(signal);
    };
    process.once('SIGTERM', stop('SIGTERM'));
    process.once('SIGINT', stop('SIGINT'));
  });
  return { stopping, stopped };
}

async function printSchedule({ open, print }: CommandContext, options: ScheduleOptions): Promise<void> {
  if (!options.systemd) throw new FailsafeError('E_USAGE', 'choose a format: --systemd');
  const failsafe = await open(options);
  try {
    const { config, file } = failsafe.config;
    const specs = timerSpecs(config);
    if (specs.length === 0) throw new FailsafeError('E_USAGE', NOTHING_TO_SCHEDULE);
    const { systemdUnits } = await import('../../core/automation/systemd.js');
    const units = systemdUnits(specs, { command: options.exec, config: resolve(file), ...(config.timeZone ? { timeZone: config.timeZone } : {}) });
    print({ units }, () => units);
  } finally {
    await failsafe.close();
  }
}

/** A timer per scheduled job's backup, and one per maintenance schedule (prune, drill). */
function timerSpecs(config: FailsafeConfig): TimerSpec[] {
  const specs: TimerSpec[] = Object.values(config.jobs)
    .filter((job) => job.schedule)
    .map((job) => ({
      unit: `failsafe-backup-${job.name}`,
      description: `Failsafe backup of ${job.name}`,
      args: ['backup', job.name],
      cron: job.schedule!,
      persistent: job.catchUp,
      jitterSeconds: job.jitterMs / 1000,
    }));
  for (const [name, cron] of Object.entries(config.schedules)) {
    specs.push({ unit: `failsafe-${name}`, description: `Failsafe ${name}`, args: [name], cron: cron!, persistent: false, jitterSeconds: 0 });
  }
  return specs;
}

function describe(event: SchedulerEvent): string {
  switch (event.type) {
    case 'scheduled':
      return `${event.task}: next run ${event.at.toISOString()}`;
    case 'start':
      return `${event.task}: started${event.catchUp ? ' (catching up a missed run)' : ''}`;
    case 'done':
      return `${event.task}: ${event.ok ? 'done' : `failed: ${event.error?.split('\n')[0]}`}`;
    case 'skipped':
      return `${event.task}: skipped, ${event.reason}`;
  }
}

/** Interrupted restores and backups are settled before the first schedule fires; a failure is logged, not fatal. */
async function recoverAtStart(failsafe: Failsafe, log: (line: string) => void, signal: AbortSignal): Promise<void> {
  try {
    const { resumed } = await failsafe.recoverAtStart({ signal, warn: (message) => log(`warning: ${message}`) });
    for (const s of resumed.snapshots) log(`recovery: resumed the interrupted backup of ${s.job}: snapshot ${s.id} stored in ${s.target}`);
    for (const f of resumed.failures) log(`recovery: resuming the backup of ${f.job} failed: ${f.error.message} [${f.error.code}]`);
  } catch (err) {
    if (signal.aborted) return;
    const e = asFailsafeError(err);
    log(`recovery failed: ${e.message} [${e.code}]`);
  }
}
