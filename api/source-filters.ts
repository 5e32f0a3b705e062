/**
 * `backup --exclude/--include`: globs added to the job's directory sources (those whose files can be filtered),
 * with the YAML's `exclude` and `include` meaning. An excluded path is recorded in the snapshot, so an in-place
 * restore of it leaves the live one be (core/restore/plan.ts `leftOut`).
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { JobConfig } from '../core/config/load.js';
import { FailsafeError } from '../core/errors.js';

export interface SourceFilters {
  exclude?: string[];
  include?: string[];
}

type SourceConfig = JobConfig['sources'][number];

/**
 * The source's options with the filters added; other source types are whole (`unfiltered` names them). A directory
 * source that holds the deployment's own state folder (`stateDir`: files cache, restore journals, seen snapshots)
 * leaves it out: backing it up would store a cache of itself, and an in-place restore would swap the journal that
 * guards it along with the data.
 */
export function filteredOptions(source: SourceConfig, filters: SourceFilters, stateDir?: string): unknown {
  const { include = [] } = filters;
  const exclude = [...(filters.exclude ?? []), ...(source.type === 'directory' ? stateExclusion(source.options, stateDir) : [])];
  if ((exclude.length === 0 && include.length === 0) || source.type !== 'directory') return source.options;
  const own = source.options as { exclude?: string[]; include?: string[] };
  // Two include lists would widen each other (either matches): the YAML's choice stands alone.
  if (include.length > 0 && own.include?.length)
    throw new FailsafeError('E_USAGE', `source "${source.name}" has its own include in the YAML: --include would widen it, use --exclude`);
  return {
    ...own,
    ...(exclude.length > 0 ? { exclude: [...(own.exclude ?? []), ...exclude] } : {}),
    ...(include.length > 0 ? { include } : {}),
  };
}

/** `/<path of the state folder inside the source>` when the source's folder holds it (a path glob: that folder only). */
function stateExclusion(options: unknown, stateDir: string | undefined): string[] {
  const path = (options as { path?: unknown }).path;
  if (stateDir === undefined || typeof path !== 'string') return [];
  const inside = relative(resolve(path), resolve(stateDir));
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return [];
  return [`/${inside.split(sep).join('/')}`];
}

/** Sources of the job the filters cannot apply to (not folders of files). */
export function unfiltered(job: JobConfig, filters: SourceFilters): string[] {
  if (!filters.exclude?.length && !filters.include?.length) return [];
  return job.sources.filter((s) => s.type !== 'directory').map((s) => `${s.name} (${s.type})`);
}
