/**
 * What the dashboard changes or hands out, each through the Failsafe facade
 * as the CLI does: `backup` and `drill` (followed live as server-sent
 * events), restores (ui/restore.ts) and downloads (ui/download.ts).
 */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Failsafe } from '../api/failsafe.js';
import type { BackupOutcome } from '../api/options.js';
import { FailsafeError } from '../core/errors.js';
import { jsonBody, required, selection, type Reader } from './routes.js';
import { download } from './download.js';
import { restore, restorePlan } from './restore.js';
import { Runs, type RunEvent } from './runs.js';

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

export function registerActions(app: Hono, failsafe: Failsafe, reader: Reader): Runs {
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
    const run = runs.start('drill', (progress) => reader(c).drill(jobs, { onProgress: progress }));
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
  app.post('/api/restore-plan', async (c) => c.json(await restorePlan(reader(c), await jsonBody(c))));
  app.post('/api/restore', async (c) => c.json(await restore(reader(c), await jsonBody(c))));
  app.get('/api/download', async (c) => download(reader(c), required(c, 'id'), required(c, 'path'), selection(c)));
  return runs;
}
