/** `failsafe list`: the snapshots, newest first. */
import { ExitCode } from '../../core/errors.js';
import { describeRollback, type Rollback } from '../../core/repository/rollback.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { formatSnapshots, snapshotJson } from '../output.js';
import { pick } from '../pick.js';

export function registerList({ command, open, print, warn, setExit }: CommandContext): void {
  command('list', 'list snapshots, newest first')
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--tag <tag>', 'only snapshots with this tag')
    .option('--trust <key...>', 'mark snapshots signed by this public signing key (failsafe-sig1-…) as trusted, besides signing.trust')
    .action(async (options: CommonOptions & { job?: string; target?: string; tag?: string; trust?: string[] }) => {
      const failsafe = await open(options);
      try {
        // A manifest that cannot be read is named (warn) and makes the exit 3: a snapshot never just vanishes from the list.
        const unreadable = (): void => setExit(ExitCode.integrity);
        const rollback = (r: Rollback): void => warn(describeRollback(r));
        const all = await failsafe.list({ ...pick(options, 'job', 'target'), warn, unreadable, rollback });
        // A signature that does not verify is damage (exit 3), as a header that does not read is.
        if (all.some((s) => s.signature === 'invalid')) setExit(ExitCode.integrity);
        const snapshots = options.tag === undefined ? all : all.filter((s) => s.tags?.includes(options.tag!));
        print(snapshots.map(snapshotJson), () => formatSnapshots(snapshots));
      } finally {
        await failsafe.close();
      }
    });
}
