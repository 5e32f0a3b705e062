/** `failsafe forget`: snapshots removed by id, with prune's safety. */
import type { ForgetReport } from '../../core/maintenance/forget.js';
import { ExitCode } from '../../core/errors.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { formatBytes } from '../output.js';
import { pick } from '../pick.js';

interface ForgetCliOptions extends CommonOptions {
  job?: string;
  target?: string;
  dryRun?: boolean;
  prune?: boolean;
}

export function registerForget({ command, open, print, warn, io, setExit }: CommandContext): void {
  command('forget <ids...>', "remove snapshots by id (or unique prefix) from every target that has them; a job's last snapshot and locked ones stay")
    .option('--job <job>', 'only snapshots of this job')
    .option('--target <target>', 'only this target')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .option('--prune', 'sweep the packs of deduplicating targets now, instead of at the next prune')
    .action(async (ids: string[], options: ForgetCliOptions) => {
      const failsafe = await open(options);
      try {
        const report = await failsafe.forget(ids, { ...pick(options, 'job', 'target'), dryRun: options.dryRun === true, prune: options.prune === true, warn });
        print(report, () => formatForget(report));
        const kept = report.snapshots.filter((s) => s.action === 'keep');
        for (const s of kept) io.stderr.write(`error: snapshot ${s.id} of ${s.job} in ${s.target} was not removed: ${s.reasons.join(', ')}\n`);
        if (kept.length > 0) setExit(kept.length < report.snapshots.length ? ExitCode.partial : ExitCode.failed);
      } finally {
        await failsafe.close();
      }
    });
}

function formatForget(report: ForgetReport): string {
  const remove = report.dryRun ? 'would remove' : 'removed';
  const lines = report.snapshots.map((s) =>
    s.action === 'keep' ? `keep    ${s.id}  ${s.job} @ ${s.target}  (${s.reasons.join(', ')})` : `${remove.padEnd(7)} ${s.id}  ${s.job} @ ${s.target}`,
  );
  for (const [target, p] of Object.entries(report.packs))
    lines.push(`packs @ ${target}: removed ${p.removedPacks} (${formatBytes(p.removedBytes)}), ${p.keptPacks} kept`);
  for (const target of report.sweepPending)
    lines.push(`packs @ ${target}: those only these snapshots used go with the next \`failsafe prune\` (or forget --prune)`);
  const removed = report.snapshots.filter((s) => s.action === 'remove').length;
  lines.push(`${removed} ${remove}, ${report.snapshots.length - removed} kept${report.dryRun ? ' (dry run: nothing changed)' : ''}`);
  return `${lines.join('\n')}\n`;
}
