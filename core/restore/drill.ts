/**
 * A restore drill: a backup is only proven by a restore. Each job's latest
 * snapshot is restored into a scratch folder with every check a real restore
 * runs (checksums, decryption, the plugins' checks on the restored data),
 * timed, measured and thrown away. Nothing live is touched.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asFailsafeError, FailsafeError } from '../errors.js';
import type { RestoreResult, RestoreRunOptions } from './run-restore.js';

export interface DrillOptions {
  /** Where scratch folders are made (default: the system temp folder); pick one on the same disk size class as production. */
  scratchDir?: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** Each job's restore progress, as `restore` reports it. */
  onProgress?: RestoreRunOptions['onProgress'];
}

export interface DrillJobReport {
  job: string;
  ok: boolean;
  /** The snapshot restored, when one was found. */
  id?: string;
  target?: string;
  /** Wall time of the restore, including every check. */
  seconds?: number;
  entries?: number;
  bytes?: number;
  sources?: { name: string; entries: number; bytes: number }[];
  error?: { code: string; message: string };
}

export interface DrillReport {
  ok: boolean;
  jobs: DrillJobReport[];
}

type RestoreFn = (
  ref: string,
  options: { job: string; to: string; safetySnapshot: false; strictChecks: true } & Pick<RestoreRunOptions, 'signal' | 'warn' | 'onProgress'>,
) => Promise<RestoreResult>;

export async function runDrill(jobs: string[], restore: RestoreFn, options: DrillOptions = {}): Promise<DrillReport> {
  const reports: DrillJobReport[] = [];
  if (options.scratchDir !== undefined && !(await stat(options.scratchDir).catch(() => undefined))?.isDirectory()) {
    // Not made for the user: a mistyped path would put a full restore where nobody expects it.
    throw new FailsafeError('E_USAGE', `--scratch ${options.scratchDir} is not a folder: make it, or leave --scratch out for the system's temporary folder`);
  }
  for (const job of jobs) {
    const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), `failsafe-drill-${job}-`));
    const started = process.hrtime.bigint();
    try {
      const result = await restore('latest', {
        job,
        to: scratch,
        safetySnapshot: false,
        // A drill proves the backup restores usable data: a failing check fails it, as it would an in-place restore.
        strictChecks: true,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.warn ? { warn: options.warn } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const sources = result.sources.map((s) => ({ name: s.name, entries: s.entries, bytes: s.bytes }));
      reports.push({
        job,
        ok: true,
        id: result.id,
        target: result.target,
        seconds: Math.round(seconds * 1000) / 1000,
        entries: sources.reduce((sum, s) => sum + s.entries, 0),
        bytes: sources.reduce((sum, s) => sum + s.bytes, 0),
        sources,
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const e = asFailsafeError(err);
      reports.push({ job, ok: false, error: { code: e.code, message: e.message } });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return { ok: reports.every((r) => r.ok), jobs: reports };
}
