/**
 * Rollback detection. A signature proves who wrote a snapshot, not that it
 * is the newest: someone who can write a target can delete the newest
 * snapshots, or put an older genuine one back in their place, and every
 * signature still verifies. What this host can notice is its own memory
 * going backwards: it records, per target and job, the newest trusted
 * snapshot it has seen, and reports a target whose newest trusted snapshot is
 * older than that (or that has none any more).
 *
 * The record is a cache (no secret, no content) beside the configuration:
 * deleting it forgets what was seen, so nothing is detected until the next
 * look. It only ever moves forwards; a newer trusted snapshot (the next
 * backup) replaces it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';

export interface SeenSnapshot {
  id: string;
  createdAt: string;
  /** When this host first saw it. */
  seenAt: string;
}

export interface Rollback {
  target: string;
  job: string;
  /** The newest trusted snapshot this host saw there before. */
  seen: SeenSnapshot;
  /** The newest trusted snapshot there now; absent when there is none. */
  newest?: { id: string; createdAt: string };
  /** Whether the seen snapshot is still listed (then it is no longer trusted, or dated past the clock). */
  seenStillListed: boolean;
}

type Records = Record<string, Record<string, SeenSnapshot>>;

/** `.failsafe/seen-snapshots/<config>.json`: { target: { job: SeenSnapshot } }. */
export class SeenSnapshots {
  readonly path: string;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async get(target: string, job: string): Promise<SeenSnapshot | undefined> {
    return (await this.#load())[target]?.[job];
  }

  /** Records `snapshot` unless what is recorded is as new or newer. Concurrent writers merge: the newest wins. */
  record(target: string, job: string, snapshot: { id: string; createdAt: string }, now: Date): Promise<void> {
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(async () => {
        const records = await this.#load();
        const current = records[target]?.[job];
        if (current && Date.parse(current.createdAt) >= Date.parse(snapshot.createdAt)) return;
        records[target] = { ...records[target], [job]: { id: snapshot.id, createdAt: snapshot.createdAt, seenAt: now.toISOString() } };
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(records, null, 2)}\n`));
      });
    return this.#writing;
  }

  /** Read each time: another process may have moved it forwards. Missing or damaged reads as empty (a cache). */
  async #load(): Promise<Records> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as unknown;
      return isRecords(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }
}

function isRecords(value: unknown): value is Records {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every(
    (jobs) =>
      typeof jobs === 'object' &&
      jobs !== null &&
      Object.values(jobs as object).every(
        (s: Partial<SeenSnapshot>) => typeof s?.id === 'string' && typeof s.createdAt === 'string' && !Number.isNaN(Date.parse(s.createdAt)),
      ),
  );
}

/**
 * Compares what a target holds now with what this host saw there: a rollback
 * when the newest trusted snapshot is older than the one seen, or gone. A
 * seen snapshot that vanished while a newer one exists is not one: retention
 * deletes old snapshots once newer ones are there.
 */
export function detectRollback(
  where: { target: string; job: string },
  seen: SeenSnapshot | undefined,
  newest: { id: string; createdAt: string } | undefined,
  listedIds: ReadonlySet<string>,
): Rollback | undefined {
  if (!seen) return undefined;
  // By id too: a backup's own summary may date its snapshot a few milliseconds after its stored header does.
  if (newest && (newest.id === seen.id || Date.parse(newest.createdAt) >= Date.parse(seen.createdAt))) return undefined;
  return { ...where, seen, ...(newest ? { newest: { id: newest.id, createdAt: newest.createdAt } } : {}), seenStillListed: listedIds.has(seen.id) };
}

/** One line for people: what went backwards, and what to do. */
export function describeRollback(r: Rollback): string {
  const now = r.newest ? `its newest trusted snapshot is ${r.newest.id} (${r.newest.createdAt})` : 'it holds no trusted snapshot';
  const why = r.seenStillListed ? 'is still listed but no longer trusted or dated past this clock' : 'is gone';
  return (
    `target ${r.target}, job ${r.job} went backwards: ${now}, but this host saw ${r.seen.id} (${r.seen.createdAt}) there on ${r.seen.seenAt}, which ${why}. ` +
    'Snapshots may have been deleted or an older one put back; if you removed them yourself, delete the record for this configuration in .failsafe/seen-snapshots/'
  );
}
