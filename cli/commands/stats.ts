/** `failsafe stats [id]`: stored and logical size per target, the ratio, and what each snapshot added. */
import type { TargetStats } from '../../api/operations/stats.js';
import { ExitCode } from '../../core/errors.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { formatBytes } from '../output.js';
import { pick } from '../pick.js';

export function registerStats({ command, open, print, warn, setExit }: CommandContext): void {
  command('stats [id]', 'repository size, deduplication ratio, and what each snapshot added (no key needed)')
    .option('--target <target>', 'only this target')
    .action(async (id: string | undefined, options: CommonOptions & { target?: string }) => {
      const failsafe = await open(options);
      try {
        // A snapshot that cannot be read is named and makes the exit 3, as in `list`.
        const unreadable = (): void => setExit(ExitCode.integrity);
        const stats = await failsafe.stats({ ...pick(options, 'target'), ...(id === undefined ? {} : { id }), warn, unreadable });
        print(stats, () => formatStats(stats));
      } finally {
        await failsafe.close();
      }
    });
}

function formatStats(targets: TargetStats[]): string {
  const lines: string[] = [];
  for (const t of targets) {
    const ratio = t.ratio > 0 ? `, ratio ${t.ratio.toFixed(2)}` : '';
    lines.push(`${t.target}: ${formatBytes(t.storedBytes)} stored for ${formatBytes(t.logicalBytes)} of snapshots${ratio}`);
    for (const s of t.snapshots) {
      lines.push(`  ${s.id}  ${s.job}  format ${s.format}  ${formatBytes(s.bytes)}, added ${formatBytes(s.addedBytes)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
