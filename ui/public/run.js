// Back up or drill a job now, and follow it live: server-sent progress, then its end.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, bytes, follow } from './api.js';
import { Problem, useApi } from './use-api.js';

const html = htm.bind(h);

export function BackupNow() {
  const [overview] = useApi('/api/overview');
  const [run, setRun] = useState(undefined);
  const start = async (kind, job) => {
    try {
      const { run: id } = await api(`/api/${kind}`, { method: 'POST', body: { jobs: [job.job] } });
      // A backup reads about as much as the last one did: the bar's 100% until it ends.
      setRun({ kind, id, expected: kind === 'backup' ? job.lastSize?.bytes : undefined });
      follow(id, (event, data) => setRun((r) => ({ ...r, [event]: data })));
    } catch (err) {
      setRun({ kind, error: err.message });
    }
  };
  const busy = run && run.id && !run.done;
  return html`<section>
    <h2>Back up now</h2>
    ${(overview?.jobs ?? []).map(
      (j) =>
        html`<p>
          <button class="backup" data-job=${j.job} disabled=${busy} onClick=${() => start('backup', j)}>back up ${j.job}</button>
          <button class="drill" data-job=${j.job} disabled=${busy} onClick=${() => start('drill', j)}>drill ${j.job}</button>
        </p>`,
    )}
    ${run && html`<${RunView} run=${run} />`}
  </section>`;
}

/** 100 once the run has ended; before, the share done so far (never 100), or unknown. */
function percent(run) {
  if (run.done) return 100;
  const p = run.progress;
  if (!p) return undefined;
  // A drill knows its whole: the snapshot's bytes (or entries, when it holds no bytes).
  const [done, whole] = run.kind === 'drill' ? (p.totalBytes > 0 ? [p.bytes, p.totalBytes] : [p.entries, p.totalEntries]) : [p.bytesRead, run.expected];
  if (!whole) return undefined;
  return Math.min(99, Math.floor((done / whole) * 100));
}

/** The run's progress as a line: a backup's files read and stored, a drill's entries restored and checked. */
function ProgressLine({ kind, p }) {
  const file = p.file ? html`<br /><small>${p.file}</small>` : '';
  if (kind === 'drill')
    return html`<p class="progress">
      ${p.job}: ${p.entries} of ${p.totalEntries} entries, ${bytes(p.bytes)} of ${bytes(p.totalBytes)} restored and checked ${file}
    </p>`;
  return html`<p class="progress">${p.job}: ${p.files} files, ${bytes(p.bytesRead)} read, ${bytes(p.storedBytes)} stored ${file}</p>`;
}

function DrillJob({ j }) {
  if (!j.ok) return html`<${Problem} error=${`drill ${j.job}: ${j.error ? `${j.error.message} [${j.error.code}]` : 'failed'}`} />`;
  return html`<p class="drill-job">
    drill ${j.job}: snapshot ${j.id} restored and checked in ${j.seconds?.toFixed(1)} s (${j.entries} entries, ${bytes(j.bytes)})
  </p>`;
}

function RunView({ run }) {
  if (run.error) return html`<${Problem} error=${run.error} />`;
  const p = run.progress;
  const done = run.done;
  const share = percent(run);
  return html`<div class="run">
    <p>${run.kind} ${done ? (done.ok && !(done.result?.failures?.length > 0) && done.result?.ok !== false ? 'finished' : 'failed') : 'running…'}</p>
    <p>
      <progress class="run-progress" max="100" value=${share}></progress>
      <span class="percent">${share === undefined ? '' : `${share}%`}</span>
    </p>
    ${p && html`<${ProgressLine} kind=${run.kind} p=${p} />`} ${done && !done.ok && html`<${Problem} error=${`${done.error.message} [${done.error.code}]`} />`}
    ${done?.result?.snapshots?.map((s) => html`<p class="snapshot">snapshot ${s.id} in ${s.target}: ${bytes(s.bytes)}, ${s.files} files</p>`)}
    ${done?.result?.failures?.map((f) => html`<${Problem} error=${`${f.job}${f.target ? ` to ${f.target}` : ''}: ${f.message} [${f.code}]`} />`)}
    ${done?.result?.jobs?.map((j) => html`<${DrillJob} j=${j} />`)}
  </div>`;
}
