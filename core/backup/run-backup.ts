/**
 * One backup of one job: collect → segment → compress → encrypt → checksum →
 * store, composed with stream/promises.pipeline (core/backup/segment-flow.ts),
 * then the manifest, written last to each target (core/backup/commit.ts).
 * Until the manifest lands the snapshot does not exist; on failure the
 * segments already stored are removed — unless a journal
 * (core/backup/journal.ts) records the progress, in which case they stay for
 * the next run to resume from. The snapshot is made once for all targets: a
 * target that fails is dropped (and its segments removed) while the others
 * complete.
 */
import { segmentSpec } from '../codec/stages.js';
import type { SourcePlugin } from '../contracts.js';
import { FailsafeError, isAbortError } from '../errors.js';
import { SegmentWorkers } from '../pipeline/segment-workers.js';
import { commitSnapshot, removePartial } from './commit.js';
import { storeSegments } from './segment-flow.js';
import { BackupState } from './state.js';
import type { BackupJob, BackupJobResult, BackupRunOptions, BackupSettings } from './types.js';

export type * from './types.js';

export async function runBackup(job: BackupJob, settings: BackupSettings, options: BackupRunOptions = {}): Promise<BackupJobResult> {
  const state = new BackupState(job, settings, options);
  const { ciphers } = state;
  const workers = new SegmentWorkers(segmentSpec(settings.stages, ciphers.segments.name, ciphers.segmentKey), settings.parallelism);
  const prepared: SourcePlugin[] = [];
  try {
    await settleInterrupted(state);
    for (const source of job.sources) {
      prepared.push(source);
      await source.prepare?.({ signal: options.signal, warn: state.warn });
    }
    return await commitSnapshot(state, await storeSegments(state, workers));
  } catch (err) {
    throw await failed(state, err);
  } finally {
    await workers.close();
    for (const source of prepared) await source.cleanup?.().catch(() => undefined);
  }
}

/** A resumed run first removes what an abandoned run left, and checks that what its journal lists is still stored. */
async function settleInterrupted({ job, options: { journal } }: BackupState): Promise<void> {
  if (journal?.abandoned) await removePartial(job.name, journal.abandoned, job.targets);
  await journal?.verifyStored(job.targets, job.name);
}

/**
 * A run that recorded no segment has nothing to resume: any object it stored (a put that finished after the run
 * had failed) goes too, or a full disk stays full. A cancellation is E_ABORTED.
 */
async function failed(state: BackupState, err: unknown): Promise<unknown> {
  const { job, options } = state;
  const resumable = options.journal ? await options.journal.failed(err) : false;
  if (!resumable) await removePartial(job.name, state.id, job.targets);
  if (isAbortError(err) && !(err instanceof FailsafeError)) return new FailsafeError('E_ABORTED', `backup of ${job.name} was cancelled`, { cause: err });
  return err;
}
