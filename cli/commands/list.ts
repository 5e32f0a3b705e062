/** `failsafe list`: the snapshots, newest first. */
import type { CommandContext, CommonOptions } from '../context.js';
import { formatSnapshots, snapshotJson } from '../output.js';
import { pick } from '../pick.js';

export function registerList({ command, open, print, warn }: CommandContext): void {
  command('list', 'list snapshots, newest first')
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .action(async (options: CommonOptions & { job?: string; target?: string }) => {
      const failsafe = await open(options);
      try {
        const snapshots = await failsafe.list({ ...pick(options, 'job', 'target'), warn });
        print(snapshots.map(snapshotJson), () => formatSnapshots(snapshots));
      } finally {
        await failsafe.close();
      }
    });
}
