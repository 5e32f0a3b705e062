/** `failsafe drill`: prove the latest backups restore, without touching live data. */
import { ERROR_CODES, ExitCode, type ErrorCode } from '../../core/errors.js';
import type { DrillReport } from '../../core/restore/drill.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { count } from '../../core/util/count.js';
import { withIdentityOptions, type IdentityOptions } from '../identity.js';
import { formatBytes, retriesLine } from '../output.js';
import { restoreProgress, withProgressOption, type ProgressMode } from '../progress.js';

interface DrillCliOptions extends CommonOptions, IdentityOptions {
  scratch?: string;
  progress?: ProgressMode;
}

export function registerDrill({ command, open, print, warn, io, setExit }: CommandContext): void {
  withProgressOption(
    withIdentityOptions(
      command('drill [jobs...]', "restore each job's latest snapshot into a scratch folder, run the checks, report the time, remove the scratch"),
    ),
  )
    .option('--scratch <dir>', 'make the scratch folders here (default: the system temp folder)')
    .action(async (jobs: string[], options: DrillCliOptions) => {
      const failsafe = await open(options);
      try {
        const progress = await restoreProgress(io, options);
        const scratch = options.scratch ? { scratchDir: options.scratch } : {};
        const report = await failsafe.drill(jobs, { ...scratch, warn, onProgress: progress.update }).finally(progress.stop);
        print(report, () => formatDrill(report) + retriesLine(report.retries));
        for (const j of report.jobs) if (j.error) io.stderr.write(`error: drill of ${j.job}: ${j.error.message.split('\n')[0]} [${j.error.code}]\n`);
        const failed = report.jobs.filter((j) => !j.ok);
        if (failed.length === 0) return;
        setExit(failed.length < report.jobs.length ? ExitCode.partial : (ERROR_CODES[failed[0]!.error!.code as ErrorCode] ?? ExitCode.failed));
      } finally {
        await failsafe.close();
      }
    });
}

function formatDrill(report: DrillReport): string {
  return report.jobs
    .filter((j) => j.ok)
    .map((j) => {
      const rate = j.seconds! > 0 ? `, ${formatBytes(j.bytes! / j.seconds!)}/s` : '';
      return `drill ${j.job}: restored ${j.id} from ${j.target} in ${j.seconds!.toFixed(2)} s (${count(j.entries!, 'entry', 'entries')}, ${formatBytes(j.bytes!)}${rate}); checks passed, scratch removed\n`;
    })
    .join('');
}
