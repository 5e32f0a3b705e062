/**
 * Start-up recovery: `failsafe recover` lists unfinished operations and
 * resumes (or with --discard forgets) them, asking yes/no on a terminal as restore does;
 * `failsafe resume` continues interrupted backups; `failsafe unlock` removes
 * stale job locks (or all of them).
 */
import { basename } from 'node:path';
import { describeExpired } from '../../api/operations/previous-copies.js';
import { describeRecovery, describeUnsettled } from '../../api/operations/settle.js';
import { FailsafeError } from '../../core/errors.js';
import { count } from '../../core/util/count.js';
import type { RecoverableOperation } from '../../api/failsafe.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { askYesNo, formatBytes } from '../output.js';
import { discardProgress, withProgressOption, type ProgressMode } from '../progress.js';

interface RecoverOptions extends CommonOptions {
  yes?: boolean;
  discard?: boolean;
  list?: boolean;
  progress?: ProgressMode;
}

interface UnlockOptions extends CommonOptions {
  job?: string;
  target?: string;
  all?: boolean;
}

export function registerRecovery(context: CommandContext): void {
  const { command } = context;
  withProgressOption(command('recover', 'list unfinished operations (interrupted backups, checkpointed jobs) and resume or discard them'))
    .option('--yes', 'act on every operation without asking (for scripts)')
    .option('--discard', 'discard instead of resuming: forget the checkpoints and remove the stored leftovers')
    .option('--list', 'only list them')
    .action((options: RecoverOptions) => recover(context, options));

  command('resume [jobs...]', 'continue the interrupted backups of the given jobs (all that have one by default)').action(
    (jobs: string[], options: CommonOptions) => resume(context, jobs, options),
  );

  command('unlock', 'remove stale locks of interrupted backups (with --all, every lock: only when no backup is running)')
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--all', 'also remove locks that look alive')
    .action((options: UnlockOptions) => unlock(context, options));
}

/**
 * Lists; settles interrupted restores (without asking: every other command would settle them too); then
 * discards or resumes (by backing the jobs up again once the deployment is closed) what the user chose.
 */
async function recover(context: CommandContext, options: RecoverOptions): Promise<void> {
  const { open, print, warn, io, backup } = context;
  const failsafe = await open(options);
  let chosen: RecoverableOperation[] = [];
  try {
    const restores = await failsafe.unsettledRestores();
    const ops = await failsafe.recoverable({ warn });
    if (options.list || (ops.length === 0 && restores.every((r) => r.running))) {
      const copies = await failsafe.expiredPreviousCopies();
      const listed = [...restores.map((r) => ({ kind: 'restore', ...r })), ...copies.map((c) => ({ kind: 'previous-copy', ...c })), ...ops];
      const text = [
        ...restores.map((r) => `${basename(r.journal, '.json')}: ${describeUnsettled(r)}\n`),
        ...copies.map((c) => `${describeExpired(c)}: the next restore or prune removes it\n`),
        ...ops.map(describe),
      ].join('');
      print(listed, () => text || 'nothing to recover\n');
      return;
    }
    const settled = await failsafe.recoverRestores();
    for (const r of settled) warn(describeRecovery(r));
    if (ops.length === 0) {
      print({ restores: settled }, () => `settled ${count(settled.length, 'interrupted restore')}\n`);
      return;
    }
    if (!options.yes && !io.stdin?.isTTY) {
      throw new FailsafeError('E_USAGE', 'recover needs a terminal to ask; pass --yes to act on every operation, or --list to only list');
    }
    if (!options.json) io.stdout.write(ops.map(describe).join(''));
    chosen = await choose(context, ops, options);
    if (options.discard) {
      // A resumed backup shows the backup's own progress; a discard counts the objects it removes.
      const progress = await discardProgress(io, options);
      const watched = progress.shown ? { onProgress: progress.update } : {};
      try {
        for (const op of chosen) await failsafe.discard(op.operationId, { warn, ...watched });
      } finally {
        progress.stop();
      }
      print({ discarded: chosen.map((op) => op.operationId) }, () => chosen.map((op) => `discarded ${op.operationId}\n`).join(''));
      chosen = [];
    }
  } finally {
    await failsafe.close();
  }
  const jobs = [...new Set(chosen.map((op) => op.job!))];
  if (jobs.length > 0) await backup(jobs, options);
}

/** The operations to act on: all of them with --yes, else those the user says yes to; an application's own cannot be resumed here. */
async function choose({ io, warn }: CommandContext, ops: RecoverableOperation[], options: RecoverOptions): Promise<RecoverableOperation[]> {
  const chosen: RecoverableOperation[] = [];
  const verb = options.discard ? 'Discard' : 'Resume';
  for (const op of ops) {
    if (!options.discard && op.job === undefined) {
      warn(`${op.operationId} is an operation of your application: resume it there (CheckpointStore.resume), or discard it with --discard`);
      continue;
    }
    if (options.yes || (await askYesNo(io, `${verb} ${op.operationName} (${percent(op)})?`))) chosen.push(op);
  }
  return chosen;
}

async function resume({ open, print, warn, backup }: CommandContext, jobs: string[], options: CommonOptions): Promise<void> {
  const failsafe = await open(options);
  let pending: string[];
  try {
    pending = [...new Set((await failsafe.recoverable({ warn })).flatMap((op) => (op.job === undefined ? [] : [op.job])))];
  } finally {
    await failsafe.close();
  }
  const selected = jobs.length > 0 ? jobs.filter((job) => pending.includes(job)) : pending;
  for (const job of jobs.filter((j) => !pending.includes(j))) warn(`job ${job} has no interrupted backup`);
  if (selected.length === 0) {
    print({ snapshots: [] }, () => 'nothing to resume\n');
    return;
  }
  await backup(selected, options);
}

async function unlock({ open, print }: CommandContext, options: UnlockOptions): Promise<void> {
  const failsafe = await open(options);
  try {
    const removed = await failsafe.unlock({
      ...(options.job ? { job: options.job } : {}),
      ...(options.target ? { target: options.target } : {}),
      all: options.all === true,
    });
    print(
      removed.map((l) => ({ target: l.target, key: l.key, stale: l.stale, holder: l.reason })),
      () => (removed.length === 0 ? 'no lock to remove\n' : removed.map((l) => `removed lock ${l.key} in ${l.target}: ${l.reason}\n`).join('')),
    );
  } finally {
    await failsafe.close();
  }
}

function percent(op: RecoverableOperation): string {
  const stored = op.segments === undefined ? '' : `, ${op.segments} segments (${formatBytes(op.plainBytes ?? 0)}) stored`;
  // Without an estimate of the whole (no earlier snapshot to go by) a percentage would read 0% however much was stored.
  const share = op.progress > 0 || op.segments === undefined ? `, ${Math.round(op.progress * 100)}%` : '';
  return `${op.state}${share}${stored}`;
}

function describe(op: RecoverableOperation): string {
  const what = op.job === undefined ? op.operationName : `backup of ${op.job}, snapshot ${op.snapshotId}`;
  return `${op.operationId}: ${what} — ${percent(op)}, last checkpoint ${op.timestamp} in ${op.target}\n${describeErrors(op)}`;
}

/** The error history's counts and its newest failure, indented under the operation; nothing while it never failed. */
function describeErrors(op: RecoverableOperation): string {
  const stats = op.errors;
  if (!stats || stats.total === 0) return '';
  const codes = Object.entries(stats.byCode)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const rate = stats.retrySuccessRate === null ? '' : `, ${Math.round(stats.retrySuccessRate * 100)}% of retried calls recovered`;
  const last = op.recentErrors?.at(-1);
  const newest = last ? `  last error ${last.time}: ${last.code}: ${last.message}${last.context ? ` ${JSON.stringify(last.context)}` : ''}\n` : '';
  return `  ${count(stats.total, 'error')} (${codes}), ${count(stats.retries, 'retry', 'retries')}${rate}\n${newest}`;
}
