/** `failsafe backup`, whose action `recover` and `resume` share through CommandContext.backup. */
import { ExitCode, FailsafeError } from '../../core/errors.js';
import type { BackupOutcome, Failsafe } from '../../api/failsafe.js';
import type { BackupPlan } from '../../api/options.js';
import { pickDefined } from '../../core/util/defined.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { count } from '../../core/util/count.js';
import { waitingText } from '../../core/repository/retry-counts.js';
import { formatLimit } from '../../core/repository/timeouts.js';
import { formatBytes, retriesLine, snapshotJson } from '../output.js';
import { backupProgress, withProgressOption, type ProgressMode } from '../progress.js';
import { repeatable } from '../repeat.js';
import { cancelOnSignals } from '../signals.js';

export function registerBackup({ command, backup }: CommandContext): void {
  withProgressOption(command('backup [jobs...]', 'back up the given jobs (all by default), resuming an interrupted backup of a job'))
    .option('--tag <tag>', 'a label for the snapshot, shown by list and kept by retention in its own group (repeat for more)', repeatable)
    .option('--force-reread', 'read every file, trusting no files cache (repository format 2)')
    .option('--exclude <glob>', "leave matching files and folders of the jobs' directory sources out, beside the YAML's exclude (repeat for more)", repeatable)
    .option('--include <glob>', 'keep only matching files (and the folders leading to them) of directory sources (repeat for more)', repeatable)
    .option('--dry-run', 'walk the sources and show what would be read (files, bytes per source); write nothing, take no lock, run no hook')
    .action(backup);
}

export interface BackupCommandOptions extends CommonOptions {
  tag?: string[];
  forceReread?: boolean;
  exclude?: string[];
  include?: string[];
  dryRun?: boolean;
  progress?: ProgressMode;
}

export async function runBackup(context: Omit<CommandContext, 'backup'>, jobs: string[], options: BackupCommandOptions): Promise<void> {
  const { io, open, print, warn, setExit } = context;
  const failsafe = await open(options);
  const cancel = cancelOnSignals(io, 'backup');
  try {
    const progress = await backupProgress(io, options);
    failsafe.on('retry', (event) => progress.waiting(waitingText(event, formatLimit)));
    const chosen = {
      ...(options.tag?.length ? { tags: options.tag } : {}),
      ...(options.forceReread ? { forceReread: true } : {}),
      ...pickDefined({ exclude: options.exclude, include: options.include }),
      ...(options.dryRun ? { dryRun: true } : {}),
    };
    // Only a shown progress asks for events: with them the backup walks its sources a second time for the totals.
    const watched = progress.shown ? { onProgress: progress.update } : {};
    const run = failsafe.backup(jobs, { warn, ...watched, signal: cancel.signal, ...chosen }).finally(progress.stop);
    const outcome = await run.catch(async (err: unknown) => {
      throw cancel.received() ? await cancelled(failsafe, cancel.received()!, warn) : err;
    });
    const snapshots = outcome.snapshots.map((s) => ({ ...snapshotJson(s), ...(s.resumed ? { resumed: s.resumed } : {}) }));
    const failures = outcome.failures.map((f) => ({
      job: f.job,
      ...pickDefined({ target: f.target, source: f.source }),
      code: f.error.code,
      message: f.error.message,
    }));
    if (outcome.plan) print({ dryRun: true, jobs: outcome.plan, ...(failures.length > 0 ? { failures } : {}) }, () => formatPlan(outcome.plan!));
    else
      print({ snapshots, ...(failures.length > 0 ? { failures } : {}), retries: outcome.retries }, () => formatBackup(outcome) + retriesLine(outcome.retries));
    for (const failure of outcome.failures) {
      const where = `job ${failure.job}${failure.target ? `, target ${failure.target}` : ''}${failure.source ? `, source ${failure.source} (left out of the snapshot)` : ''}`;
      io.stderr.write(`error: ${where}: ${failure.error.message.split('\n')[0]} [${failure.error.code}]\n`);
    }
    if (outcome.failures.length > 0) {
      const done = outcome.snapshots.length + (outcome.plan?.length ?? 0);
      setExit(done > 0 ? ExitCode.partial : outcome.failures[0]!.error.exitCode);
    }
  } finally {
    cancel.dispose();
    await failsafe.close();
  }
}

/** E_ABORTED saying what a resumed backup would continue from: the journal's stored segments, if any. */
async function cancelled(failsafe: Failsafe, signal: string, warn: (message: string) => void): Promise<FailsafeError> {
  const backups = (await failsafe.recoverable({ warn }).catch(() => [])).filter((op) => op.job !== undefined);
  const where = backups.map((op) => `${op.job}: ${count(op.segments ?? 0, 'segment')} of snapshot ${op.snapshotId} stored`);
  const resume = where.length > 0 ? `; \`failsafe resume\` continues (${where.join(', ')})` : '; nothing was stored';
  return new FailsafeError('E_ABORTED', `backup cancelled by ${signal}: hooks ran, locks released${resume}`);
}

function formatPlan(plan: BackupPlan[]): string {
  const lines: string[] = [];
  for (const job of plan) {
    lines.push(`job ${job.job} → ${job.targets.join(', ')}: would read ${count(job.files, 'file')}, ${formatBytes(job.bytes)}`);
    for (const s of job.sources) lines.push(`  ${s.name} (${s.type}): ${count(s.files, 'file')}, ${formatBytes(s.bytes)}`);
  }
  lines.push('dry run: nothing was written');
  return `${lines.join('\n')}\n`;
}

function formatBackup(outcome: BackupOutcome): string {
  return outcome.snapshots
    .map((s) => {
      const resumed = s.resumed ? `; resumed: ${s.resumed.reusedSegments} segments reused, ${s.resumed.uploadedSegments} sent` : '';
      return `snapshot ${s.id} of ${s.job} stored in ${s.target}: ${count(s.files, 'file')}, ${formatBytes(s.bytes)} (${formatBytes(s.storedBytes)} stored${resumed})\n`;
    })
    .join('');
}
