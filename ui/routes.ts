/**
 * What the dashboard reads: each route is one call of the Failsafe facade,
 * the one the matching CLI command makes (`status`, `list`, `ls`, `find`,
 * `diff`, `stats`), with its answer shaped for a page. Nothing here holds a
 * secret: the facade's answers carry none, and the configuration is never sent.
 */
import type { Context, Hono } from 'hono';
import type { Failsafe } from '../api/failsafe.js';
import type { BrowsedEntry } from '../api/operations/browse.js';
import { backupTaskName, FileRunState } from '../core/automation/run-state.js';
import { FailsafeError } from '../core/errors.js';
import { pickDefined } from '../core/util/defined.js';

/** `job` and `target` query parameters, as the CLI's `--job` and `--target`. */
export function selection(c: Context): { job?: string; target?: string } {
  return pickDefined({ job: c.req.query('job') || undefined, target: c.req.query('target') || undefined });
}

export function required(c: Context, name: string): string {
  const value = c.req.query(name);
  if (!value) throw new FailsafeError('E_USAGE', `missing query parameter "${name}"`);
  return value;
}

/** A JSON object body, or an empty object (each route checks the fields it needs). */
export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const body: unknown = await c.req.json().catch(() => ({}));
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

export function registerRoutes(app: Hono, failsafe: Failsafe): void {
  app.get('/api/overview', async (c) => c.json(await overview(failsafe)));
  app.get('/api/snapshots', async (c) => {
    const tag = c.req.query('tag') || undefined;
    const all = await failsafe.list(selection(c));
    // As `failsafe list --tag`.
    const snapshots = tag === undefined ? all : all.filter((s) => s.tags?.includes(tag));
    // A public header holds no secret: it is what `list` reads without the key.
    return c.json(snapshots.map((s) => ({ ...s, tags: s.tags ?? [] })));
  });
  app.get('/api/ls', async (c) => {
    const path = (c.req.query('path') ?? '').replace(/^\/+|\/+$/g, '');
    const listing = await failsafe.ls(required(c, 'id'), path || undefined, selection(c));
    return c.json({
      snapshot: listing.snapshot.id,
      job: listing.snapshot.job,
      target: listing.snapshot.target,
      path,
      children: childrenOf(listing.entries, path),
    });
  });
  app.get('/api/find', async (c) => c.json(await failsafe.find(required(c, 'pattern'), selection(c))));
  app.get('/api/diff', async (c) => {
    const d = await failsafe.diff(required(c, 'from'), required(c, 'to'), selection(c));
    return c.json({ from: d.from.id, to: d.to.id, added: d.added, removed: d.removed, changed: d.changed });
  });
  // `failsafe prune --dry-run`: what retention would remove, and why each kept snapshot stays; nothing is changed.
  app.get('/api/prune-preview', async (c) => c.json(await failsafe.prune({ ...selection(c), dryRun: true })));
  app.get('/api/stats', async (c) => c.json(await failsafe.stats(pickDefined({ target: c.req.query('target') || undefined }))));
}

export interface TreeNode {
  name: string;
  /** `<source>/<path>`: what `ls`, a download and a restore take. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size?: number;
  mtime?: string;
  linkTarget?: string;
}

/**
 * One level of `ls`'s recursive listing under `path`: the page opens a
 * folder when it is clicked, so it never draws a whole tree. A folder the
 * manifest has no entry for (a source's root) is still shown, from its content.
 */
export function childrenOf(entries: BrowsedEntry[], path: string): TreeNode[] {
  const prefix = path === '' ? '' : `${path}/`;
  const nodes = new Map<string, TreeNode>();
  for (const e of entries) {
    const full = e.path === '' || e.path === '.' ? e.source : `${e.source}/${e.path}`;
    if (!full.startsWith(prefix) || full === path) continue;
    const [name, ...deeper] = full.slice(prefix.length).split('/');
    if (!name) continue;
    if (deeper.length > 0) {
      if (!nodes.has(name)) nodes.set(name, { name, path: `${prefix}${name}`, type: 'directory' });
      continue;
    }
    nodes.set(name, { name, path: full, type: e.type, size: e.size, mtime: e.mtime, ...pickDefined({ linkTarget: e.linkTarget }) });
  }
  return [...nodes.values()].sort((a, b) =>
    (a.type === 'directory') === (b.type === 'directory') ? a.name.localeCompare(b.name) : a.type === 'directory' ? -1 : 1,
  );
}

/** `failsafe status`, with what the daemon's schedules add: each job's next run and the last drill. */
async function overview(failsafe: Failsafe): Promise<unknown> {
  const { config } = failsafe.config;
  const report = await failsafe.status();
  const runs = await new FileRunState(config.stateFile).records();
  const nextRun = await nextRuns(failsafe);
  const drill = runs.get('drill');
  return {
    ...report,
    jobs: report.jobs.map((job) => ({ ...job, schedule: config.jobs[job.job]?.schedule, nextRun: nextRun.get(backupTaskName(job.job)) })),
    drill: drill ? { at: drill.lastRun, ok: drill.ok, ...pickDefined({ error: drill.error }) } : undefined,
    drillSchedule: config.schedules.drill,
  };
}

async function nextRuns(failsafe: Failsafe): Promise<Map<string, string>> {
  const { config } = failsafe.config;
  const scheduled = Object.values(config.jobs).filter((job) => job.schedule);
  if (scheduled.length === 0) return new Map();
  const { cronOf } = await import('../core/automation/scheduler.js');
  return new Map(scheduled.map((job) => [backupTaskName(job.name), cronOf(job.schedule!, config.timeZone).nextRun()?.toISOString() ?? '']));
}
