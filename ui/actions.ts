/**
 * What the dashboard changes or hands out, each through the Failsafe facade
 * as the CLI does: `backup` and `drill` (followed live as server-sent
 * events), `restore --to` a folder, and the download of one file (a restore
 * of that one path into a private scratch folder, streamed, then removed).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Failsafe } from '../api/failsafe.js';
import type { BackupOutcome } from '../api/options.js';
import { FailsafeError } from '../core/errors.js';
import { pickDefined } from '../core/util/defined.js';
import { jsonBody, required, selection } from './routes.js';
import { Runs, type RunEvent } from './runs.js';

/** `<source>/<path inside it>`: what a restore's `--source` and `--path` take. */
function splitPath(full: string): { source: string; inside: string } {
  const [source, ...rest] = full.replace(/^\/+|\/+$/g, '').split('/');
  if (!source || rest.length === 0 || rest.includes('..')) throw new FailsafeError('E_USAGE', `"${full}" is not <source>/<path> inside a snapshot`);
  return { source, inside: rest.join('/') };
}

/** A path as a glob that matches only itself (and, for a folder, what it holds: restore's `--path` does that). */
const literalGlob = (path: string): string => path.replace(/[\\*?[\]{}()!+@]/g, '\\$&');

function stringList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) throw new FailsafeError('E_USAGE', `${what} must be a list of names`);
  return value as string[];
}

/** Checked before the run starts, so that the page gets the error as the answer to its request. */
function knownJobs(failsafe: Failsafe, jobs: string[]): void {
  const known = failsafe.jobNames();
  const unknown = jobs.find((job) => !known.includes(job));
  if (unknown !== undefined) throw new FailsafeError('E_UNKNOWN_JOB', `no job "${unknown}" (defined: ${known.join(', ')})`);
}

/** What a page shows of a backup's end: ids and errors, never the FailsafeError objects themselves. */
const outcomeJson = (o: BackupOutcome): unknown => ({
  snapshots: o.snapshots.map(({ id, job, target, bytes, files, storedBytes }) => ({ id, job, target, bytes, files, storedBytes })),
  failures: o.failures.map((f) => ({ job: f.job, target: f.target, code: f.error.code, message: f.error.message.split('\n')[0] })),
});

export function registerActions(app: Hono, failsafe: Failsafe): Runs {
  const runs = new Runs();
  app.post('/api/backup', async (c) => {
    const jobs = stringList((await jsonBody(c)).jobs, 'jobs');
    knownJobs(failsafe, jobs);
    const run = runs.start('backup', async (progress) => outcomeJson(await failsafe.backup(jobs, { onProgress: progress })));
    return c.json({ run: run.id }, 202);
  });
  app.post('/api/drill', async (c) => {
    const jobs = stringList((await jsonBody(c)).jobs, 'jobs');
    knownJobs(failsafe, jobs);
    const run = runs.start('drill', () => failsafe.drill(jobs));
    return c.json({ run: run.id }, 202);
  });
  app.get('/api/runs/:id/events', (c) => {
    const run = runs.get(c.req.param('id'));
    return streamSSE(c, async (stream) => {
      const send = (e: RunEvent): Promise<void> => stream.writeSSE({ event: e.event, data: JSON.stringify(e.data) });
      const queue: RunEvent[] = [];
      let wake = (): void => undefined;
      const listener = (e: RunEvent): void => {
        queue.push(e);
        wake();
      };
      run.listeners.add(listener);
      stream.onAbort(() => {
        run.listeners.delete(listener);
        wake();
      });
      try {
        if (run.latest) await send(run.latest);
        let end = run.end;
        while (!end && !stream.aborted) {
          if (queue.length === 0) await new Promise<void>((done) => (wake = done));
          // Progress comes faster than a page reads: only the newest is worth sending.
          const batch = queue.splice(0);
          end = batch.find((e) => e.event === 'done');
          const last = batch.filter((e) => e.event === 'progress').at(-1);
          if (last) await send(last);
        }
        if (end) await send(end);
      } finally {
        run.listeners.delete(listener);
      }
    });
  });
  app.post('/api/restore', async (c) => c.json(await restoreTo(failsafe, await jsonBody(c))));
  app.get('/api/download', async (c) => download(failsafe, required(c, 'id'), required(c, 'path'), selection(c)));
  return runs;
}

/** `failsafe restore <id> --source S --path P --to DIR`; never in place, and never over anything that exists (the confirmation says no). */
async function restoreTo(failsafe: Failsafe, body: Record<string, unknown>): Promise<unknown> {
  const { id, to, path, job, target } = body;
  if (typeof id !== 'string' || id === '') throw new FailsafeError('E_USAGE', 'name the snapshot to restore (id)');
  if (typeof to !== 'string' || !isAbsolute(to)) throw new FailsafeError('E_USAGE', 'the destination (to) must be an absolute folder path on the server');
  const part = typeof path === 'string' && path !== '' ? splitPath(path) : undefined;
  const result = await failsafe.restore(id, {
    to,
    ...pickDefined({ job: typeof job === 'string' ? job : undefined, target: typeof target === 'string' ? target : undefined }),
    ...(part ? { sources: [part.source], paths: [literalGlob(part.inside)] } : {}),
    // A page cannot answer the CLI's question: replacing what is there is refused, nothing changed (E_ABORTED).
    confirm: () => Promise.resolve(false),
  });
  return {
    id: result.id,
    job: result.job,
    target: result.target,
    sources: result.sources.map(({ name, destinations, entries, bytes }) => ({ name, destinations, entries, bytes })),
  };
}

async function download(failsafe: Failsafe, id: string, path: string, select: { job?: string; target?: string }): Promise<Response> {
  const { source, inside } = splitPath(path);
  const scratch = await mkdtemp(join(tmpdir(), 'failsafe-ui-'));
  try {
    await failsafe.restore(id, { ...select, to: scratch, sources: [source], paths: [literalGlob(inside)], safetySnapshot: false });
    const file = join(scratch, source, inside);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new FailsafeError('E_USAGE', `"${path}" is not a file in snapshot ${id}`);
    const body = Readable.toWeb(createReadStream(file).on('close', () => void rm(scratch, { recursive: true, force: true }))) as ReadableStream;
    const name = basename(inside).replace(/[^\w.-]/g, '_');
    return new Response(body, {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(info.size),
        'Content-Disposition': `attachment; filename="${name}"; filename*=UTF-8''${encodeURIComponent(basename(inside))}`,
      },
    });
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
