/**
 * Restoring a snapshot of a deployment: settle restores a crash interrupted,
 * find and open the snapshot with its job's stages, and run the restore
 * engine (core/restore/run-restore.ts) with a safety snapshot of the live data.
 */
import { resolve } from 'node:path';
import type { SourcePlugin } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import type { ManifestSource } from '../../core/format/manifest.js';
import { MAX_TAGS } from '../../core/format/manifest-schema.js';
import { PRE_RESTORE_TAG } from '../../core/repository/snapshots.js';
import type { RestoreResult } from '../../core/restore/run-restore.js';
import type { Deployment } from '../container.js';
import type { RestoreOptions } from '../options.js';
import { backupSettings } from './backup.js';
import { refuseRollback } from './rollback.js';
import { findSnapshot } from './select.js';
import { registerCopies, removeExpired } from './previous-copies.js';
import { describeRecovery, journalDir, settleRestores } from './settle.js';

type Engine = typeof import('../../core/restore/run-restore.js');

export async function restoreSnapshot(deployment: Deployment, ref: string, options: RestoreOptions): Promise<RestoreResult> {
  const engine = await import('../../core/restore/run-restore.js');
  try {
    return await run(deployment, engine, ref, options);
  } finally {
    await engine.dropSpares();
  }
}

async function run(deployment: Deployment, engine: Engine, ref: string, options: RestoreOptions): Promise<RestoreResult> {
  const { safetySnapshot = true, allowRollback = false, ...rest } = options;
  // An unset variable in a script (`--to "$DIR"`) must not turn a restore into another folder into an in-place one.
  if (options.to?.trim() === '')
    throw new FailsafeError('E_USAGE', 'the destination --to is empty or blank (an unset variable?): name a folder, or leave --to out to restore in place');
  if (options.paths?.some((p) => p.trim() === ''))
    throw new FailsafeError('E_USAGE', 'a --path is empty or blank (an unset variable?): give a glob such as "photos/**"');
  const parallelism = deployment.config.parallelism ?? 2;
  if (!options.dryRun) for (const r of await settleRestores(deployment)) options.warn?.(describeRecovery(r));
  const { repository, info } = await findSnapshot(deployment, ref, options);
  if (ref === 'latest') await refuseRollback(deployment, repository.storage, info.job, allowRollback, options.warn);
  const job = deployment.config.jobs[info.job];
  const stages = job ? deployment.catalog(info.job) : undefined;
  const snapshot = await repository.openSnapshot(info.job, info.id, await deployment.encryption('open'), stages);
  // The threads boot while the restore is planned. Not before the key is open: a passphrase's Argon2id thread
  // takes 70 MB while it runs, and is gone by now.
  if (!options.dryRun) engine.startRestoreThreads(parallelism);
  const byName = new Map<string, SourcePlugin>((job ? deployment.sources(job) : []).map((p) => [p.name, p]));
  const fallback = (source: ManifestSource): SourcePlugin => fallbackSource(deployment, source);
  const takeSafety = async (sources: SourcePlugin[]): Promise<string> => {
    const target = deployment.targetsOf(deployment.job(info.job))[0]!;
    const { runBackup } = await import('../../core/backup/run-backup.js');
    const settings = await backupSettings(deployment, info.job);
    const { snapshots } = await runBackup({ name: info.job, sources, targets: [target] }, settings, {
      tags: safetyTags(sources),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.warn ? { warn: options.warn } : {}),
    });
    return snapshots[0]!.id;
  };
  const result = await engine.runRestore(
    snapshot,
    { byName, fallback },
    { ...rest, ...(safetySnapshot && job ? { safetySnapshot: takeSafety } : {}), journalDir: journalDir(deployment), parallelism },
  );
  if (!options.dryRun) {
    const copies = result.sources.flatMap((s) => s.previous);
    if (options.to === undefined && copies.length > 0)
      await registerCopies(deployment, info.job, copies).catch(
        (err: unknown) => void options.warn?.(`where this restore kept the replaced data was not recorded (its copies will not expire): ${String(err)}`),
      );
    // The restore is done: a copy that cannot be removed is only warned of (the next restore or prune tries again).
    const expired = await removeExpired(deployment).catch(
      (err: unknown) => void options.warn?.(`expired .pre-restore copies were not removed: ${String(err)}`),
    );
    if (expired && expired.length > 0) result.expiredRemoved = expired;
  }
  const { runAfterRestore } = await import('../../core/restore/after-restore.js');
  await runAfterRestore(job?.hooks, result, options.to === undefined, { cwd: deployment.loaded.dir, ...(options.warn ? { warn: options.warn } : {}) });
  return result;
}

/**
 * `pre-restore`, and one `pre-restore:<source>` per source it holds: prune keeps each set of tags as a group of its
 * own, so the safety snapshot of a settings restore is not pushed out by a later restore of the photos. User tags
 * cannot hold ":", so these never mix with them.
 */
function safetyTags(sources: SourcePlugin[]): string[] {
  return [PRE_RESTORE_TAG, ...sources.slice(0, MAX_TAGS - 1).map((s) => `${PRE_RESTORE_TAG}:${s.name}`)];
}

/** A source the configuration no longer has (with --to only): restored by its own type if known, else as a plain tree. */
function fallbackSource(deployment: Deployment, source: ManifestSource): SourcePlugin {
  const path = resolve('/', source.name);
  const own = deployment.registry.sources.get(source.type);
  const options = own?.optionsSchema.safeParse({ path });
  if (own && options?.success) return own.create(options.data, source.name);
  return deployment.registry.source('directory').create({ path }, source.name);
}
