/** The human side of `restore`: its options, the plan a dry run or a confirmation shows, the question, the outcome. */
import { FailsafeError } from '../core/errors.js';
import { showName } from '../core/fs/name-bytes.js';
import type { RestoreResult } from '../core/restore/run-restore.js';
import { count } from '../core/util/count.js';
import { askYesNo, formatBytes, type Io } from './output.js';

export interface RestoreCliOptions {
  job?: string;
  target?: string;
  source?: string[];
  path?: string[];
  to?: string;
  dryRun?: boolean;
  yes?: boolean;
  keepPrevious: boolean;
  safetySnapshot: boolean;
  allowRollback?: boolean;
}

/** Live data is only replaced after a yes on a terminal, or with --yes; a script without it is refused. */
export async function confirmRestore(io: Io, plan: RestoreResult): Promise<boolean> {
  if (!io.stdin?.isTTY) {
    throw new FailsafeError('E_USAGE', 'this restore replaces live data: confirm on a terminal, or pass --yes (see the plan with --dry-run)');
  }
  io.stderr.write(formatPlan(plan));
  return askYesNo(io, 'Replace the live data listed above?');
}

const SHOWN = 10;

const entries = (n: number): string => count(n, 'entry', 'entries');
const files = (n: number): string => count(n, 'file');

function some(verb: string, paths: string[], kind = ''): string[] {
  if (paths.length === 0) return [];
  const lines = [`  ${verb} ${count(paths.length, `${kind}file`)}:`, ...paths.slice(0, SHOWN).map((p) => `    ${showName(p)}`)];
  if (paths.length > SHOWN) lines.push(`    … and ${paths.length - SHOWN} more`);
  return lines;
}

/** Per source: where it goes and, file by file, what it creates, replaces and deletes. */
export function formatPlan(result: RestoreResult): string {
  const lines: string[] = [`snapshot ${result.id} of ${result.job} in ${result.target}:`];
  for (const s of result.sources) {
    lines.push(`${s.name}: ${entries(s.entries)}, ${formatBytes(s.bytes)} → ${s.destinations.join(', ')}`);
    const c = s.changes;
    if (!c) continue;
    lines.push(...some('creates', c.created), ...some('replaces', c.replaced, 'changed '), ...some('deletes', c.deleted));
    if (c.unchanged.length > 0) lines.push(`  ${files(c.unchanged.length)} unchanged (same size and modification time)`);
    if (c.liveFiles > 0) lines.push(`  live data replaced or deleted: ${files(c.liveFiles)}, ${formatBytes(c.liveBytes)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatRestored(result: RestoreResult): string {
  if (result.dryRun) return `${formatPlan(result)}dry run: nothing was changed\n`;
  const lines = result.sources.flatMap((s) => [
    `restored ${s.name}: ${entries(s.entries)}, ${formatBytes(s.bytes)} → ${s.destinations.join(', ')}`,
    ...s.replaced.map((path) => `  replaced ${showName(path)}`),
    ...s.previous.map((path) => `  previous data kept at ${showName(path)}`),
  ]);
  if (result.safetySnapshot) lines.push(`the replaced data was backed up first: snapshot ${result.safetySnapshot} (pre-restore)`);
  for (const copy of result.expiredRemoved ?? []) lines.push(`removed ${showName(copy.path)}: older than job ${copy.job}'s restore.keepPrevious`);
  return `${lines.join('\n')}\n`;
}
