/**
 * What the dashboard reads: each route is one call of the Failsafe facade,
 * the one the matching CLI command makes (`status`, `list`, `ls`, `find`,
 * `diff`, `stats`), with its answer shaped for a page. Nothing here holds a
 * secret: the facade's answers carry none, and the configuration is never sent.
 */
import type { Context, Hono } from 'hono';
import type { Failsafe } from '../api/failsafe.js';
import { backupTaskName, FileRunState } from '../core/automation/run-state.js';
import { FailsafeError } from '../core/errors.js';
import { pickDefined } from '../core/util/defined.js';
import { Listings } from './listings.js';

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

/** The deployment a request opens snapshots with: the session's, when it uploaded an identity (ui/identity.ts). */
export type Reader = (c: Context) => Failsafe;

/** What needs no key (status, list, prune, stats) is read by `failsafe`; what opens a snapshot by the session's `reader`. */
export function registerRoutes(app: Hono, failsafe: Failsafe, reader: Reader): void {
  // Per deployment: what a session opened with its identity is not answered to another from memory.
  const listings = new WeakMap<Failsafe, Listings>();
  const listingsOf = (failsafe: Failsafe): Listings => {
    let kept = listings.get(failsafe);
    if (!kept) listings.set(failsafe, (kept = new Listings(failsafe)));
    return kept;
  };
  // The scheduler and its cron library (~20 ms on a quiet machine) loaded now, not by the first overview while the page waits.
  void nextRuns(failsafe).catch(() => undefined);
  // `?newest=1`: `status --newest-only`, each job's newest header alone, which the page draws while the full report is read.
  app.get('/api/overview', async (c) => c.json(await overview(failsafe, c.req.query('newest') === '1')));
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
    if (path === '') {
      const { snapshot, children } = await listingsOf(reader(c)).root(required(c, 'id'), selection(c));
      return c.json({ snapshot: snapshot.id, job: snapshot.job, target: snapshot.target, path, children });
    }
    const { snapshot, folders } = await listingsOf(reader(c)).get(required(c, 'id'), selection(c));
    const children = folders.get(path);
    if (!children) throw new FailsafeError('E_USAGE', `nothing at "${path}" in snapshot ${snapshot.id} (paths start with a source name)`);
    return c.json({ snapshot: snapshot.id, job: snapshot.job, target: snapshot.target, path, children });
  });
  app.get('/api/find', async (c) => c.json(await reader(c).find(required(c, 'pattern'), selection(c))));
  app.get('/api/diff', async (c) => {
    const d = await reader(c).diff(required(c, 'from'), required(c, 'to'), selection(c));
    return c.json({ from: d.from.id, to: d.to.id, added: d.added, removed: d.removed, changed: d.changed });
  });
  // `failsafe prune --dry-run`: what retention would remove, and why each kept snapshot stays; nothing is changed.
  app.get('/api/prune-preview', async (c) => c.json(await failsafe.prune({ ...selection(c), dryRun: true })));
  app.get('/api/stats', async (c) => c.json(await failsafe.stats(pickDefined({ target: c.req.query('target') || undefined }))));
}

/** `failsafe status`, with what the daemon's schedules add: each job's next run and the last drill. */
async function overview(failsafe: Failsafe, newestOnly: boolean): Promise<unknown> {
  const { config } = failsafe.config;
  const report = await failsafe.status({ newestOnly });
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
