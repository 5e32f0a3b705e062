/** `failsafe status`: per job the newest snapshot, its age, sizes, counts per target, and the health. */
import { resolve } from 'node:path';
import { ExitCode } from '../../core/errors.js';
import type { StatusReport, TargetStatus } from '../../core/status/status.js';
import { describeRetries } from '../../core/repository/retry-counts.js';
import { count } from '../../core/util/count.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { formatBytes } from '../output.js';

export function registerStatus({ command, open, print, setExit }: CommandContext): void {
  command('status', 'show per job the last successful backup, its age and size, snapshots per target, and the health')
    .option('--job <job>', 'only this job')
    .option('--prometheus <file>', 'also write the figures as a Prometheus text file (node_exporter textfile collector)')
    .option('--newest-only', "read each job's newest snapshot header only, not every one: fast with a long history; no stored bytes, no rollback check")
    .action(async (options: CommonOptions & { job?: string; prometheus?: string; newestOnly?: boolean }) => {
      const failsafe = await open(options);
      try {
        const report = await failsafe.status({ ...(options.job ? { job: options.job } : {}), newestOnly: options.newestOnly === true });
        if (options.prometheus) {
          const { writePrometheusFile } = await import('../../core/status/metrics.js');
          await writePrometheusFile(resolve(options.prometheus), report);
        }
        const { formatAge } = await import('../../core/status/status.js');
        print(report, () => formatStatus(report, formatAge));
        // Monitoring runs this: critical fails it, a warning is still a success.
        if (report.health === 'critical') setExit(ExitCode.failed);
      } finally {
        await failsafe.close();
      }
    });
}

function formatStatus(report: StatusReport, formatAge: (seconds: number) => string): string {
  const lines: string[] = [];
  for (const job of report.jobs) {
    const last = job.lastSuccess
      ? `last success ${job.lastSuccess.replace(/\.\d+Z$/, 'Z')} (${formatAge(job.ageSeconds ?? 0)} ago), ${count(job.lastSize!.files, 'file')}, ${formatBytes(job.lastSize!.bytes)}`
      : 'no successful backup';
    lines.push(`${job.job}: ${job.health}, ${last}`);
    for (const t of job.targets) {
      lines.push(
        t.error
          ? `  ${t.target}: cannot be read: ${t.error.message}`
          : `  ${t.target}: ${t.snapshots} snapshot${t.snapshots === 1 ? '' : 's'}${report.partial ? '' : `, ${storedText(t)}`}`,
      );
    }
    const retried = job.lastRun?.retries ? describeRetries(job.lastRun.retries) : '';
    if (retried !== '') lines.push(`  the daemon's last run (${job.lastRun!.at}) retried transfers: ${retried}`);
    for (const problem of job.problems) lines.push(`  ! ${problem}`);
  }
  for (const problem of report.problems) lines.push(`! ${problem}`);
  lines.push(`health: ${report.health}`);
  return `${lines.join('\n')}\n`;
}

/** A deduplicating repository is shared by every job in the target: its size is the repository's, said so. */
function storedText(t: TargetStatus): string {
  if (t.repositoryBytes === undefined) return `${formatBytes(t.storedBytes)} stored`;
  const v1 = t.storedBytes > 0 ? ` + ${formatBytes(t.storedBytes)} in format-1 snapshots` : '';
  return `deduplicating repository of ${formatBytes(t.repositoryBytes)} (shared by every job in it)${v1}`;
}
