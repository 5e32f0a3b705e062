/**
 * Restores from the page, each `failsafe restore` with the CLI's safeguards:
 *
 * - `--to` a folder: anything already there is never replaced (the page
 *   cannot answer the CLI's question, so the answer is no: E_ABORTED).
 * - in place: first the plan (`restore --dry-run`: what is created,
 *   replaced, deleted), shown to whoever confirms; then the restore, which
 *   goes ahead only if the plan it makes is still the one shown. Live data
 *   that changed in between makes it stop with nothing changed (E_ABORTED).
 *   A safety snapshot of the live data is taken first, as the CLI does.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import type { Failsafe } from '../api/failsafe.js';
import type { RestoreResult } from '../core/restore/run-restore.js';
import { FailsafeError } from '../core/errors.js';
import { pickDefined } from '../core/util/defined.js';
import { pick } from './paths.js';

type Body = Record<string, unknown>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function snapshotOf(body: Body): { id: string; select: { job?: string; target?: string } } {
  const id = text(body.id);
  if (!id) throw new FailsafeError('E_USAGE', 'name the snapshot to restore (id)');
  return { id, select: pickDefined({ job: text(body.job), target: text(body.target) }) };
}

/** What the page shows of a restore, and of a plan: where each source goes, and file by file what it changes. */
const resultJson = (r: RestoreResult): Record<string, unknown> => ({
  id: r.id,
  job: r.job,
  target: r.target,
  sources: r.sources.map(({ name, destinations, entries, bytes, replaced, previous, changes }) => ({
    name,
    destinations,
    entries,
    bytes,
    replaced,
    previous,
    ...pickDefined({ changes }),
  })),
  ...pickDefined({ safetySnapshot: r.safetySnapshot }),
});

/** Names the plan the user saw: the same destinations and the same changes give the same name. */
function planDigest(r: RestoreResult): string {
  const plan = r.sources.map(({ name, destinations, changes }) => ({ name, destinations, changes }));
  return createHash('sha256')
    .update(JSON.stringify([r.id, r.job, r.target, plan]))
    .digest('base64url');
}

/** `failsafe restore <id> [--source S --path P] --dry-run`: the plan of an in-place restore, and its name for the confirmation. */
export async function restorePlan(failsafe: Failsafe, body: Body): Promise<unknown> {
  const { id, select } = snapshotOf(body);
  const plan = await failsafe.restore(id, { ...select, ...pick(body.path), dryRun: true });
  return { ...resultJson(plan), plan: planDigest(plan) };
}

/** `failsafe restore <id> [--source S --path P] (--to DIR | in place, confirmed by the plan's name)`. */
export async function restore(failsafe: Failsafe, body: Body): Promise<unknown> {
  const { id, select } = snapshotOf(body);
  const to = body.to;
  if (body.inPlace === true) {
    if (to !== undefined) throw new FailsafeError('E_USAGE', 'give either a destination (to) or inPlace, not both');
    const shown = text(body.plan);
    if (!shown) throw new FailsafeError('E_USAGE', 'an in-place restore needs the plan it confirms (see /api/restore-plan)');
    let stale = false;
    const confirm = (plan: RestoreResult): Promise<boolean> => Promise.resolve(!(stale = planDigest(plan) !== shown));
    try {
      return resultJson(await failsafe.restore(id, { ...select, ...pick(body.path), confirm }));
    } catch (err) {
      if (stale) throw new FailsafeError('E_ABORTED', 'the live data changed since the plan was shown: nothing was changed; look at the plan again');
      throw err;
    }
  }
  if (typeof to !== 'string' || !isAbsolute(to)) throw new FailsafeError('E_USAGE', 'the destination (to) must be an absolute folder path on the server');
  // A page cannot answer the CLI's question: replacing what is there is refused, nothing changed (E_ABORTED).
  return resultJson(await failsafe.restore(id, { ...select, to, ...pick(body.path), confirm: () => Promise.resolve(false) }));
}
