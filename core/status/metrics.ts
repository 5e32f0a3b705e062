/**
 * The status report as a Prometheus text file, for node_exporter's textfile
 * collector. prom-client writes the exposition format (escaping, HELP/TYPE
 * lines) so this file only maps the report onto gauges. prom-client is
 * imported on the first call: it is about 11 MB of memory every other run
 * would carry for nothing.
 */
import type { Gauge } from 'prom-client';
import { lazyDependency } from '../sdk/dependency.js';
import { fromCreateError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import type { Health, StatusReport } from './status.js';

const HEALTH_VALUE: Record<Health, number> = { ok: 0, warning: 1, critical: 2 };

const promClient = lazyDependency('prom-client', 'the Prometheus text file', () => import('prom-client'));

export async function prometheusText(report: StatusReport): Promise<string> {
  const { Gauge, Registry } = await promClient();
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => new Gauge({ name, help, labelNames, registers: [registry] });
  const health = gauge('failsafe_health', 'Overall health: 0 ok, 1 warning, 2 critical');
  const jobHealth = gauge('failsafe_job_health', 'Health of a job: 0 ok, 1 warning, 2 critical', ['job']);
  const lastSuccess = gauge('failsafe_last_success_timestamp_seconds', 'Creation time of the newest snapshot of a job', ['job']);
  const age = gauge('failsafe_last_success_age_seconds', 'Age of the newest snapshot of a job', ['job']);
  const lastBytes = gauge('failsafe_last_snapshot_bytes', 'Source bytes in the newest snapshot of a job', ['job']);
  const snapshots = gauge('failsafe_snapshots', 'Snapshots of a job on a target', ['job', 'target']);
  const stored = gauge('failsafe_stored_bytes', 'Bytes stored by a job on a target', ['job', 'target']);
  const up = gauge('failsafe_target_up', 'Whether the target could be read (1) or not (0)', ['job', 'target']);
  const unfinished = gauge('failsafe_unfinished_operations', 'Interrupted operations waiting to be resumed');

  health.set(HEALTH_VALUE[report.health]);
  unfinished.set(report.unfinishedOperations.length);
  for (const job of report.jobs) {
    jobHealth.set({ job: job.job }, HEALTH_VALUE[job.health]);
    if (job.lastSuccess) lastSuccess.set({ job: job.job }, Date.parse(job.lastSuccess) / 1000);
    if (job.ageSeconds !== undefined) age.set({ job: job.job }, job.ageSeconds);
    if (job.lastSize) lastBytes.set({ job: job.job }, job.lastSize.bytes);
    for (const t of job.targets) {
      const labels = { job: job.job, target: t.target };
      up.set(labels, t.error ? 0 : 1);
      if (t.error) continue;
      snapshots.set(labels, t.snapshots);
      // A partial report (status --newest-only) did not count the stored bytes: no figure rather than a 0.
      if (!report.partial) stored.set(labels, t.storedBytes);
    }
  }
  return registry.metrics();
}

/**
 * Written atomically: the collector never reads half a file. Its folder must exist (the collector's): one
 * created for a mistyped path would be written to where nobody reads it.
 */
export async function writePrometheusFile(file: string, report: StatusReport): Promise<void> {
  const text = Buffer.from(await prometheusText(report));
  await writeFileAtomic(file, text).catch((err: unknown) => {
    throw fromCreateError(err, file, 'the metrics file');
  });
}
