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

/** 100 once the run has ended; before, the share of the last snapshot's bytes read so far (never 100), or unknown. */
function percent(run) {
  if (run.done) return 100;
  if (!run.expected || !run.progress) return undefined;
  return Math.min(99, Math.floor((run.progress.bytesRead / run.expected) * 100));
}

function RunView({ run }) {
  if (run.error) return html`<${Problem} error=${run.error} />`;
  const p = run.progress;
  const done = run.done;
  const share = percent(run);
  return html`<div class="run">
    <p>${run.kind} ${done ? (done.ok && !(done.result?.failures?.length > 0) ? 'finished' : 'failed') : 'running…'}</p>
    <p>
      <progress class="run-progress" max="100" value=${share}></progress>
      <span class="percent">${share === undefined ? '' : `${share}%`}</span>
    </p>
    ${p && html`<p class="progress">${p.job}: ${p.files} files, ${bytes(p.bytesRead)} read, ${bytes(p.storedBytes)} stored ${p.file ? html`<br /><small>${p.file}</small>` : ''}</p>`}
    ${done && !done.ok && html`<${Problem} error=${`${done.error.message} [${done.error.code}]`} />`}
    ${done?.result?.snapshots?.map((s) => html`<p class="snapshot">snapshot ${s.id} in ${s.target}: ${bytes(s.bytes)}, ${s.files} files</p>`)}
    ${done?.result?.failures?.map((f) => html`<${Problem} error=${`${f.job}${f.target ? ` to ${f.target}` : ''}: ${f.message} [${f.code}]`} />`)}
    ${done?.result?.jobs?.map((j) => html`<p>drill ${j.job}: ${j.ok ? 'restored and checked' : 'failed'}</p>`)}
  </div>`;
}
