/** `failsafe prune`: retention per job and target, and leftovers of interrupted writes. */
import { parseDurationText } from '../../core/maintenance/retention.js';
import type { PruneReport } from '../../core/maintenance/prune.js';
import { ExitCode, FailsafeError } from '../../core/errors.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { formatBytes } from '../output.js';
import { pruneProgress, withProgressOption, type ProgressMode } from '../progress.js';

interface PruneCliOptions extends CommonOptions {
  job?: string;
  target?: string;
  dryRun?: boolean;
  orphanGrace: string;
  progress?: ProgressMode;
}

export function registerPrune({ command, open, print, warn, io, setExit }: CommandContext): void {
  withProgressOption(command('prune', "remove snapshots the jobs' retention policies no longer keep, and leftovers of interrupted backups"))
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--dry-run', 'show what would be kept and removed, remove nothing')
    .option('--orphan-grace <duration>', 'leave objects without a manifest alone until this old (a backup may be writing them)', '24h')
    .action(async (options: PruneCliOptions) => {
      const grace = parseDurationText(options.orphanGrace);
      if (!grace || grace.years > 0 || grace.months > 0)
        throw new FailsafeError('E_USAGE', `--orphan-grace "${options.orphanGrace}": expected a duration like 36h, 2d or 1w`);
      const failsafe = await open(options);
      const progress = await pruneProgress(io, options);
      try {
        const report = await failsafe.prune({
          ...(progress.shown ? { onProgress: progress.update } : {}),
          ...(options.job ? { job: options.job } : {}),
          ...(options.target ? { target: options.target } : {}),
          dryRun: options.dryRun === true,
          orphanGraceMs: (grace.days * 24 + grace.hours) * 3_600_000,
          warn,
        });
        progress.stop();
        print(report, () => formatPrune(report));
        for (const e of report.errors) io.stderr.write(`error: ${e.job ? `job ${e.job}, ` : ''}target ${e.target}: ${e.message.split('\n')[0]} [${e.code}]\n`);
        if (report.errors.length > 0) setExit(report.snapshots.length > 0 ? ExitCode.partial : ExitCode.failed);
      } finally {
        progress.stop();
        await failsafe.close();
      }
    });
}

function formatPrune(report: PruneReport): string {
  const lines: string[] = [];
  const remove = report.dryRun ? 'would remove' : 'removed';
  for (const s of report.snapshots) {
    const where = `${s.job} @ ${s.target}`;
    lines.push(s.action === 'keep' ? `keep    ${s.id}  ${where}  (${s.reasons.join(', ')})` : `${remove.padEnd(7)} ${s.id}  ${where}`);
  }
  for (const o of report.orphans)
    lines.push(`${remove} leftover ${o.job}/${o.id} @ ${o.target}: ${o.objects} objects, ${formatBytes(o.bytes)} without a manifest`);
  for (const c of report.previousCopies)
    lines.push(`${remove} ${c.path}: replaced by a restore on ${c.madeAt}, older than job ${c.job}'s restore.keepPrevious`);
  for (const [target, count] of Object.entries(report.tempRemoved)) if (count > 0) lines.push(`removed ${count} temp files @ ${target}`);
  for (const [target, p] of Object.entries(report.packs)) {
    const repacked = p.repacked > 0 ? `, ${p.repacked} partly used repacked into ${p.repackedPacks}` : '';
    const locked = p.notRepacked > 0 ? `, ${p.notRepacked} partly used left whole (this host cannot open them)` : '';
    const held = p.locked > 0 ? `, ${p.locked} unused or partly used kept under a retention lock` : '';
    const extended = p.extendedLocks > 0 ? `; retention locks extended on ${p.extendedLocks} objects` : '';
    lines.push(`packs @ ${target}: ${remove} ${p.removedPacks} (${formatBytes(p.removedBytes)})${repacked}${locked}${held}, ${p.keptPacks} kept${extended}`);
  }
  const kept = report.snapshots.filter((s) => s.action === 'keep').length;
  lines.push(`${kept} kept, ${report.snapshots.length - kept} ${remove}${report.dryRun ? ' (dry run: nothing changed)' : ''}`);
  return `${lines.join('\n')}\n`;
}
