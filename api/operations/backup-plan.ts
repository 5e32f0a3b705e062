/**
 * `backup --dry-run`: what a backup would read, per job and source (files and bytes), found by walking the
 * sources as a backup does. Nothing is written to any target and no lock is taken; the job's hooks do not run
 * (they may stop services), a source's own `prepare` (a database's consistent copy, made locally) does.
 */
import type { JobConfig } from '../../core/config/load.js';
import type { SourceContext, SourcePlugin } from '../../core/contracts.js';
import { asFailsafeError } from '../../core/errors.js';
import type { Deployment } from '../container.js';
import type { BackupFailure, BackupOptions, BackupPlan, PlannedRead } from '../options.js';
import type { SourceFilters } from '../source-filters.js';

export async function planBackup(
  deployment: Deployment,
  jobs: JobConfig[],
  filters: SourceFilters,
  options: BackupOptions,
): Promise<{ plan: BackupPlan[]; failures: BackupFailure[] }> {
  const plan: BackupPlan[] = [];
  const failures: BackupFailure[] = [];
  const context = { warn: options.warn ?? ((): void => undefined), ...(options.signal ? { signal: options.signal } : {}) };
  for (const job of jobs) {
    try {
      const sources: PlannedRead[] = [];
      for (const source of deployment.sources(job, filters)) {
        const read: PlannedRead = { name: source.name, type: source.type, entries: 0, files: 0, bytes: 0 };
        await source.prepare?.(context);
        try {
          await countEntries(source, context, read);
        } finally {
          if (source.prepare) await source.cleanup?.();
        }
        sources.push(read);
      }
      const sum = (key: 'files' | 'bytes'): number => sources.reduce((total, s) => total + s[key], 0);
      plan.push({ job: job.name, targets: job.targets, sources, files: sum('files'), bytes: sum('bytes') });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      failures.push({ job: job.name, error: asFailsafeError(err) });
    }
  }
  return { plan, failures };
}

/**
 * Adds the source's entries, files and file bytes to `read`: a walk that stats and reads nothing else. Hard links count
 * as the files and bytes a backup reads: a deduplicating one (`hardLinks: false`) reads a linked file once, by its first name.
 */
export async function countEntries(
  source: SourcePlugin,
  context: SourceContext,
  read: { entries: number; files: number; bytes: number },
  hardLinks = true,
): Promise<void> {
  for await (const entry of source.entries(context)) {
    read.entries++;
    if (entry.type !== 'file' || (!hardLinks && entry.hardLink !== undefined)) continue;
    read.files++;
    read.bytes += entry.size;
  }
}
