/** `failsafe ls`, `find` and `diff`: browsing snapshots from the terminal, nothing restored. */
import { parseShownName, showName } from '../../core/fs/name-bytes.js';
import type { BrowsedEntry, FoundEntry, Listing, SnapshotDiff } from '../../api/operations/browse.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { FailsafeError } from '../../core/errors.js';
import { formatBytes } from '../output.js';
import { withTrustOptions, type IdentityOptions } from '../identity.js';
import { pick } from '../pick.js';

type Select = CommonOptions & IdentityOptions & { job?: string; target?: string };

export function registerBrowse({ command, open, print, io }: CommandContext): void {
  withTrustOptions(command('ls <id> [path]', 'list the files of a snapshot (`latest`, an id or a prefix), under <source>[/folder]'))
    .option('--job <job>', 'the job (for latest)')
    .option('--target <target>', 'only this target')
    .option('-l, --long', 'type, mode, size and time of each entry')
    .action(async (id: string, path: string | undefined, options: Select & { long?: boolean }) => {
      const failsafe = await open(options);
      try {
        const listing = await failsafe.ls(id, path === undefined ? undefined : parseShownName(path), pick(options, 'job', 'target'));
        print(listing, () => formatListing(listing, options.long === true));
      } finally {
        await failsafe.close();
      }
    });
  withTrustOptions(command('find <pattern>', 'find files by glob (a bare name matches at any depth) in every snapshot'))
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .action(async (pattern: string, options: Select) => {
      const failsafe = await open(options);
      try {
        const found = await failsafe.find(pattern, pick(options, 'job', 'target'));
        print(found, () => formatFound(found));
      } finally {
        await failsafe.close();
      }
    });
  withTrustOptions(command('diff <from> <to>', 'what was added, removed and changed between two snapshots'))
    .option('--job <job>', 'the job (for latest)')
    .option('--target <target>', 'only this target')
    .action(async (from: string, to: string, options: Select) => {
      const failsafe = await open(options);
      try {
        const changes = await failsafe.diff(from, to, pick(options, 'job', 'target'));
        print(changes, () => formatDiff(changes));
      } finally {
        await failsafe.close();
      }
    });
  withTrustOptions(command('dump <id> <path>', 'write a file of a snapshot to stdout, or a source or folder as a tar stream'))
    .option('--job <job>', 'the job (for latest)')
    .option('--target <target>', 'only this target')
    .action(async (id: string, path: string, options: Select) => {
      // stdout carries the bytes: no JSON document can share it.
      if (options.json) throw new FailsafeError('E_USAGE', 'dump writes the bytes on stdout: --json does not apply');
      const failsafe = await open(options);
      try {
        await failsafe.dump(id, path, io.stdout, pick(options, 'job', 'target')).catch((err: unknown) => {
          // The reader went away (`failsafe dump … | head`): the bytes it wanted were written; nothing failed.
          if (!readerWentAway(err)) throw err;
        });
      } finally {
        await failsafe.close();
      }
    });
}

function readerWentAway(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.code === 'EPIPE') return true;
  return false;
}

/**
 * A name as the terminal shows it: control characters and bytes that are not
 * UTF-8 as `\xNN`, a backslash as `\\` (core/fs/name-bytes.ts), so a crafted
 * name cannot move the cursor and two names never look alike.
 */
const shown = (e: BrowsedEntry): string => showName(`${e.source}/${e.path}`) + (e.type === 'directory' ? '/' : '');

function longLine(e: BrowsedEntry): string {
  const type = e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : '-';
  const link = e.linkTarget === undefined ? '' : ` -> ${showName(e.linkTarget)}`;
  return `${type}${(e.mode & 0o7777).toString(8).padStart(4, '0')}  ${formatBytes(e.size).padStart(10)}  ${e.mtime}  ${shown(e)}${link}`;
}

function formatListing(listing: Listing, long: boolean): string {
  const lines = listing.entries.map((e) => (long ? longLine(e) : shown(e)));
  return `${lines.join('\n')}\n`;
}

function formatFound(found: FoundEntry[]): string {
  if (found.length === 0) return 'no match\n';
  return `${found.map((f) => `${f.id}  ${f.job} @ ${f.target}  ${formatBytes(f.size)}  ${shown(f)}`).join('\n')}\n`;
}

function formatDiff(d: SnapshotDiff): string {
  const lines = [
    ...d.added.map((e) => `+ ${shown(e)}  ${formatBytes(e.size)}`),
    ...d.removed.map((e) => `- ${shown(e)}  ${formatBytes(e.size)}`),
    ...d.changed.map((c) => `M ${shown(c.after)}  ${formatBytes(c.before.size)} → ${formatBytes(c.after.size)}`),
  ];
  const summary = `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed (${d.from.id} → ${d.to.id})`;
  return `${[...lines, summary].join('\n')}\n`;
}
