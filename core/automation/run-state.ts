/**
 * The daemon's memory between processes: when each scheduled task last ran
 * and how it ended, in one small JSON file written atomically. A missing or
 * unreadable file means "no record" (catch-up then falls back to snapshots).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import type { RetryCounts } from '../repository/retry-counts.js';
import type { RunRecord, RunState } from './scheduler.js';

interface Record {
  lastRun: string;
  ok: boolean;
  error?: string;
  /** The transfers the run tried again (a flaky link shows here before it fails a run). */
  retries?: RetryCounts;
}

export class FileRunState implements RunState {
  readonly path: string;
  #records: Map<string, Record> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async lastRun(task: string): Promise<Date | undefined> {
    const record = (await this.#load()).get(task);
    return record ? new Date(record.lastRun) : undefined;
  }

  async records(): Promise<Map<string, Record>> {
    return new Map(await this.#load());
  }

  recordRun(task: string, run: RunRecord): Promise<void> {
    // Writes are serialized: two tasks finishing together never lose each other's record.
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(async () => {
        const records = await this.#load();
        records.set(task, {
          lastRun: run.at.toISOString(),
          ok: run.ok,
          ...(run.error ? { error: run.error } : {}),
          ...(run.retries ? { retries: run.retries } : {}),
        });
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(Object.fromEntries(records), null, 2)}\n`));
      });
    return this.#writing;
  }

  async #load(): Promise<Map<string, Record>> {
    if (!this.#records) {
      try {
        this.#records = new Map(Object.entries(JSON.parse(await readFile(this.path, 'utf8')) as { [task: string]: Record }));
      } catch {
        this.#records = new Map();
      }
    }
    return this.#records;
  }
}

/** The state file's key for a job's backup. */
export const backupTaskName = (job: string): string => `backup ${job}`;
