/**
 * Telling the outside world how a job's backup went: a healthchecks-style
 * ping URL (`<url>/start`, `<url>` on success, `<url>/fail` on failure,
 * the summary as the body) and a webhook receiving a JSON document. A
 * notification that cannot be delivered (after a retry) is a warning: it
 * never fails the backup. Node's fetch does the HTTP; p-retry the retry,
 * imported only when there is something to deliver.
 */
import type { SnapshotSummary } from '../backup/run-backup.js';
import { lazyDependency } from '../sdk/dependency.js';
import { count } from '../util/count.js';

const pRetry = lazyDependency('p-retry', 'notifications', async () => (await import('p-retry')).default);

export interface JobNotify {
  ping?: string;
  webhook?: string;
  timeoutMs: number;
}

export type NotifyEvent = 'start' | 'success' | 'failure';

export interface JobReport {
  job: string;
  event: NotifyEvent;
  at: string;
  snapshots: Pick<SnapshotSummary, 'id' | 'target' | 'bytes' | 'files' | 'storedBytes'>[];
  failures: { target?: string; code: string; message: string }[];
}

export interface Notifier {
  send(report: JobReport): Promise<void>;
}

export function createNotifier(notify: JobNotify | undefined, warn?: (message: string) => void): Notifier {
  return {
    async send(report) {
      if (!notify) return;
      const deliveries: Promise<void>[] = [];
      if (notify.ping) {
        const url = report.event === 'start' ? `${notify.ping}/start` : report.event === 'failure' ? `${notify.ping}/fail` : notify.ping;
        deliveries.push(deliver(url, 'text/plain; charset=utf-8', summarize(report), notify.timeoutMs, warn, `ping (${report.event})`));
      }
      if (notify.webhook && report.event !== 'start') {
        deliveries.push(deliver(notify.webhook, 'application/json', JSON.stringify(report), notify.timeoutMs, warn, `webhook (${report.event})`));
      }
      await Promise.all(deliveries);
    },
  };
}

async function deliver(url: string, type: string, body: string, timeoutMs: number, warn: ((message: string) => void) | undefined, what: string): Promise<void> {
  try {
    const retry = await pRetry();
    await retry(
      async () => {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      },
      { retries: 1, minTimeout: 500 },
    );
  } catch (err) {
    warn?.(`notification ${what} to ${redact(url)} failed: ${(err as Error).message}`);
  }
}

/** Ping URLs carry their secret in the path: show only the host. */
function redact(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}

function summarize(report: JobReport): string {
  const lines = [`failsafe: ${report.job}: ${report.event} at ${report.at}`];
  for (const s of report.snapshots) lines.push(`snapshot ${s.id} stored in ${s.target}: ${count(s.files, 'file')}, ${count(s.bytes, 'byte')}`);
  for (const f of report.failures) lines.push(`${f.target ? `target ${f.target}: ` : ''}${f.message} [${f.code}]`);
  return `${lines.join('\n')}\n`;
}
