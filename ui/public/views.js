// The dashboard's views; each reads one API route, the one the matching CLI command calls.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { age, api, bytes, query, time } from './api.js';
import { Charts } from './charts.js';
import { Problem, useApi } from './use-api.js';
import { Tree } from './tree.js';

const html = htm.bind(h);
const PAGE = 100;

export function Overview() {
  // Each job's newest header first (`status --newest-only`), then the full report, which reads every header for the stored bytes and the charts.
  // One after the other: asked at once, the full report's thousand reads queue ahead of the first's in the server's file system pool.
  const [first, firstError] = useApi('/api/overview?newest=1');
  const asked = first !== undefined || firstError !== undefined;
  const [full, error] = useApi(asked ? '/api/overview' : undefined, [asked]);
  const report = full ?? first;
  if (!report)
    return html`<${Problem} error=${error} />
      <p>Loading…</p>`;
  const drill = report.drill ? `${report.drill.ok ? 'passed' : `failed: ${report.drill.error ?? ''}`} at ${time(report.drill.at)}` : 'never';
  return html`<section class="overview" data-partial=${report.partial ? 'true' : undefined}>
    <h2>Overview <span class=${`health ${report.health}`}>${report.health}</span></h2>
    <table class="jobs">
      <thead>
        <tr>
          <th>job</th>
          <th>health</th>
          <th>last success</th>
          <th>age</th>
          <th>size</th>
          <th>stored</th>
          <th>targets</th>
          <th>next run</th>
          <th>last drill</th>
        </tr>
      </thead>
      <tbody>
        ${report.jobs.map(
          (j) =>
            html`<tr data-job=${j.job}>
              <td>${j.job}</td>
              <td><span class=${`health ${j.health}`}>${j.health}</span>${j.problems.map((p) => html`<div class="reason">${p}</div>`)}</td>
              <td>${time(j.lastSuccess) || 'never'}</td>
              <td>${age(j.ageSeconds)}</td>
              <td>${j.lastSize ? `${bytes(j.lastSize.bytes)}, ${j.lastSize.files} files` : ''}</td>
              <td>${j.lastSize ? bytes(j.lastSize.storedBytes) : ''}</td>
              <td>${j.targets.map((t) => html`<div>${t.target}: ${t.error ? t.error.message : `${t.snapshots} snapshots`}</div>`)}</td>
              <td>${j.nextRun ? time(j.nextRun) : j.schedule ? '' : 'no schedule'}</td>
              <td>${drill}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${report.problems.map((p) => html`<p class="reason">${p}</p>`)}
    <p class="note">
      checked ${time(report.checkedAt)}${report.partial ? ' from each job’s newest snapshot; reading every snapshot for the stored bytes and the charts…' : ''}
    </p>
    ${!report.partial && html`<${Charts} jobs=${report.jobs} />`}
  </section>`;
}

export function Snapshots() {
  const [filter, setFilter] = useState({ job: '', target: '', tag: '' });
  const [snapshots, error] = useApi(`/api/snapshots?${query(filter)}`, [filter.job, filter.target, filter.tag]);
  const [open, setOpen] = useState(undefined);
  const [picked, setPicked] = useState([]);
  const [diff, setDiff] = useState(undefined);
  // A long history is drawn a page at a time: a thousand rows would slow the first paint for nothing.
  const [shown, setShown] = useState(PAGE);
  const set = (key) => (e) => (setFilter({ ...filter, [key]: e.target.value.trim() }), setShown(PAGE));
  const pick = (s) => setPicked(picked.includes(s) ? picked.filter((p) => p !== s) : [...picked.slice(-1), s]);
  const compare = async () => {
    const [a, b] = [...picked].sort((x, y) => x.createdAt.localeCompare(y.createdAt));
    setDiff(await api(`/api/diff?${query({ from: a.id, to: b.id, job: a.job, target: a.target })}`).catch((e) => ({ error: e.message })));
  };
  return html`<section>
    <h2>Snapshots</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <input placeholder="job" value=${filter.job} onChange=${set('job')} />
      <input placeholder="target" value=${filter.target} onChange=${set('target')} />
      <input placeholder="tag" value=${filter.tag} onChange=${set('tag')} />
      <button type="button" class="diff" disabled=${picked.length !== 2} onClick=${compare}>diff the two ticked</button>
    </form>
    <${Problem} error=${error} />
    ${diff && html`<${Diff} diff=${diff} />`} ${open && html`<${Tree} snapshot=${open} key=${`${open.target}/${open.id}`} />`}
    <table class="snapshots">
      <thead>
        <tr>
          <th></th>
          <th>id</th>
          <th>job</th>
          <th>target</th>
          <th>created</th>
          <th>size</th>
          <th>files</th>
          <th>tags</th>
        </tr>
      </thead>
      <tbody>
        ${(snapshots ?? []).slice(0, shown).map(
          (s) =>
            html`<tr data-id=${s.id}>
              <td><input type="checkbox" checked=${picked.includes(s)} onChange=${() => pick(s)} /></td>
              <td><a href="#" onClick=${(e) => (e.preventDefault(), setOpen(s))}>${s.id}</a></td>
              <td>${s.job}</td>
              <td>${s.target}</td>
              <td>${time(s.createdAt)}</td>
              <td>${bytes(s.bytes)}</td>
              <td>${s.files}</td>
              <td>${s.tags.join(', ')}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      snapshots?.length > shown &&
      html`<p>
        ${shown} of ${snapshots.length} shown
        <button type="button" class="more" onClick=${() => setShown(shown + PAGE)}>show ${Math.min(PAGE, snapshots.length - shown)} more</button>
      </p>`
    }
  </section>`;
}

function Diff({ diff }) {
  if (diff.error) return html`<${Problem} error=${diff.error} />`;
  const line = (sign, e) =>
    html`<li class=${`diff-${sign === '+' ? 'added' : sign === '-' ? 'removed' : 'changed'}`}>${sign} ${e.source}/${e.path} (${bytes(e.size)})</li>`;
  return html`<div class="diff">
    <h3>${diff.from} → ${diff.to}: ${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed</h3>
    <ul>
      ${diff.added.map((e) => line('+', e))}${diff.removed.map((e) => line('-', e))}${diff.changed.map((c) => line('M', c.after))}
    </ul>
  </div>`;
}

export function PrunePreview() {
  const [report, error] = useApi('/api/prune-preview');
  if (!report)
    return html`<${Problem} error=${error} />
      <p>Loading…</p>`;
  const removed = report.snapshots.filter((d) => d.action === 'remove');
  return html`<section>
    <h2>Prune preview</h2>
    <p>
      ${removed.length} snapshot(s) would be removed, ${report.snapshots.length - removed.length} kept, ${report.orphans.length} leftover(s) of interrupted
      backups cleared. Nothing has been changed: <code>failsafe prune</code> does it.
    </p>
    ${report.errors.map((e) => html`<${Problem} error=${`${e.target}${e.job ? ` (${e.job})` : ''}: ${e.message} [${e.code}]`} />`)}
    <table class="prune">
      <thead>
        <tr>
          <th>snapshot</th>
          <th>job</th>
          <th>target</th>
          <th>created</th>
          <th>would be</th>
          <th>why kept</th>
        </tr>
      </thead>
      <tbody>
        ${report.snapshots.map(
          (d) =>
            html`<tr data-id=${d.id} class=${d.action}>
              <td>${d.id}</td>
              <td>${d.job}</td>
              <td>${d.target}</td>
              <td>${time(d.createdAt)}</td>
              <td>${d.action === 'remove' ? 'removed' : 'kept'}</td>
              <td>${d.reasons.join(', ')}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
