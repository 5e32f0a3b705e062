/** `failsafe restore`: a snapshot, or part of it, back where it came from or into another folder. */
import { parseShownName } from '../../core/fs/name-bytes.js';
import { Option } from 'commander';
import { resolve } from 'node:path';
import { FailsafeError } from '../../core/errors.js';
import type { RestoreResult } from '../../core/restore/run-restore.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { withIdentityOptions, type IdentityOptions } from '../identity.js';
import { retriesLine } from '../output.js';
import { pick } from '../pick.js';
import { restoreProgress, withProgressOption, type ProgressMode } from '../progress.js';
import { repeatable } from '../repeat.js';
import { confirmRestore, formatRestored, type RestoreCliOptions } from '../restore-output.js';

type RestoreOptions = CommonOptions & IdentityOptions & RestoreCliOptions & { progress?: ProgressMode };

export function registerRestore(context: CommandContext): void {
  withProgressOption(withIdentityOptions(context.command('restore <snapshot>', 'restore a snapshot (an id, a unique prefix of one, or "latest")')))
    .option('--job <job>', 'the job the snapshot belongs to')
    .option('--target <target>', 'read from this target')
    .option('--source <name>', 'only this source (repeat for more)', repeatable)
    .option('--path <glob>', 'only entries matching this glob (a path inside a source; a directory brings its subtree; repeat for more)', repeatable)
    .option('--to <dir>', 'restore each source into <dir>/<source name>/ instead of where it came from')
    .option('--dry-run', 'show what would be created, replaced and deleted; change nothing')
    .option('-y, --yes', 'replace live data without asking (for scripts)')
    .addOption(new Option('--no-safety-snapshot', 'do not back up the live data being replaced first'))
    .option('--allow-rollback', 'restore "latest" even when it is older than the newest snapshot this host saw in the target')
    .addOption(new Option('--no-keep-previous', 'delete replaced data instead of keeping it as <path>.pre-restore-<time>'))
    .action((ref: string, options: RestoreOptions) => restore(context, ref, options));
}

async function restore({ io, open, print, warn }: CommandContext, ref: string, options: RestoreOptions): Promise<void> {
  const failsafe = await open(options);
  // Ctrl-C or SIGTERM cancels the restore instead of killing it, so that it removes its staging folders;
  // a second one kills it, and the journal lets the next command settle what it left.
  const cancel = new AbortController();
  const onSignal = (name: NodeJS.Signals) => (): void => cancel.abort(new FailsafeError('E_ABORTED', `restore cancelled by ${name}`));
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  const attach = (): void => void Object.entries(handlers).forEach(([name, handler]) => process.once(name, handler));
  const detach = (): void => void Object.entries(handlers).forEach(([name, handler]) => process.off(name, handler));
  // At the question nothing is written yet: a signal there ends the process as it always did.
  const ask = async (plan: RestoreResult): Promise<boolean> => {
    detach();
    try {
      return await confirmRestore(io, plan);
    } finally {
      attach();
    }
  };
  attach();
  const progress = await restoreProgress(io, options);
  try {
    const result = await failsafe
      .restore(ref, {
        ...pick(options, 'job', 'target'),
        ...(options.source ? { sources: options.source } : {}),
        // A name as listings show it (`\xff` for a byte that is not UTF-8) stands for that name.
        ...(options.path ? { paths: options.path.map(parseShownName) } : {}),
        // resolve('') is the working directory: a blank --to goes on as it is, for the restore to refuse.
        ...(options.to === undefined ? {} : { to: options.to.trim() === '' ? options.to : resolve(options.to) }),
        dryRun: options.dryRun === true,
        keepPrevious: options.keepPrevious,
        safetySnapshot: options.safetySnapshot,
        ...(options.allowRollback ? { allowRollback: true } : {}),
        ...(options.yes ? {} : { confirm: ask }),
        signal: cancel.signal,
        warn,
        onProgress: progress.update,
      })
      .finally(progress.stop);
    print(result, () => formatRestored(result) + retriesLine(result.retries));
  } finally {
    detach();
    await failsafe.close();
  }
}
