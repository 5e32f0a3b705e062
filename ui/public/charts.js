// The overview's charts: each job's snapshot sizes and backup durations over time (uPlot, served from its installed package), and the bytes each target stores.
// uPlot is imported when a chart is first drawn: the overview's table does not wait for it.
import { h } from 'preact';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import htm from 'htm';
import { bytes } from './api.js';
import { useApi } from './use-api.js';

const html = htm.bind(h);
const COLORS = ['#2a7ab0', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085'];

/** A job's own backups, oldest first: a restore's safety snapshot is not a backup run. */
function backups(snapshots) {
  return snapshots.filter((s) => !s.tags.includes('pre-restore')).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** One series per job and per measure (size, stored), on the snapshots' times, oldest first; a job has no point where another has one. */
export function sizeSeries(snapshots) {
  const own = backups(snapshots);
  const jobs = [...new Set(own.map((s) => s.job))].sort();
  const column = (job, key) => own.map((s) => (s.job === job ? s[key] : null));
  const series = jobs.flatMap((job, i) => [
    { label: `${job} size`, values: column(job, 'bytes'), color: i },
    { label: `${job} stored`, values: column(job, 'storedBytes'), dash: [6, 4], color: i },
  ]);
  return { times: own.map((s) => Date.parse(s.createdAt) / 1000), series };
}

/** One series per job: how long each backup took, in seconds; snapshots of versions that did not record it have no point. */
export function durationSeries(snapshots) {
  const own = backups(snapshots).filter((s) => s.durationMs !== undefined);
  const jobs = [...new Set(own.map((s) => s.job))].sort();
  const series = jobs.map((job, i) => ({ label: `${job} duration`, values: own.map((s) => (s.job === job ? s.durationMs / 1000 : null)), color: i }));
  return { times: own.map((s) => Date.parse(s.createdAt) / 1000), series };
}

const seconds = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${+s.toFixed(2)} s`);

/** A uPlot chart of `series` over `times`, its values written by `format`. */
function TimeChart({ data, format, name }) {
  const at = useRef(null);
  useEffect(() => {
    const { times, series } = data;
    if (times.length === 0) return undefined;
    let plot;
    let gone = false;
    import('uplot').then(({ default: uPlot }) => {
      if (gone) return;
      const lines = series.map((s) => ({
        label: s.label,
        stroke: COLORS[s.color % COLORS.length],
        dash: s.dash,
        spanGaps: true,
        points: { show: times.length < 60 },
      }));
      plot = new uPlot(
        {
          width: Math.min(1000, at.current.clientWidth || 800),
          height: 240,
          series: [{}, ...lines],
          axes: [{}, { values: (_, ticks) => ticks.map(format), size: 80 }],
        },
        [times, ...series.map((s) => s.values)],
        at.current,
      );
    });
    return () => {
      gone = true;
      plot?.destroy();
    };
  }, [data]);
  if (data.times.length === 0) return html`<p class=${`note chart ${name}`}>nothing recorded yet</p>`;
  return html`<div class=${`chart ${name}`} ref=${at}></div>`;
}

/** What each target stores for the deployment's jobs: a bar per target, as `status` counts it. */
function StoredBars({ jobs }) {
  const stored = new Map();
  for (const j of jobs) for (const t of j.targets) stored.set(t.target, (stored.get(t.target) ?? 0) + (t.repositoryBytes ?? t.storedBytes ?? 0));
  const most = Math.max(1, ...stored.values());
  return html`<table class="stored">
    ${[...stored].map(
      ([target, n]) =>
        html`<tr data-target=${target}>
          <td>${target}</td>
          <td class="bar"><div style=${{ width: `${Math.round((n / most) * 100)}%` }}></div></td>
          <td>${bytes(n)}</td>
        </tr>`,
    )}
  </table>`;
}

export function Charts({ jobs }) {
  const [snapshots, error] = useApi('/api/snapshots');
  const sizes = useMemo(() => snapshots && sizeSeries(snapshots), [snapshots]);
  const durations = useMemo(() => snapshots && durationSeries(snapshots), [snapshots]);
  return html`<section class="charts">
    ${error && html`<p class="error">${error}</p>`}
    <div class="chart-pair">
      <div>
        <h3>Snapshot sizes over time</h3>
        ${sizes && html`<${TimeChart} data=${sizes} format=${bytes} name="sizes" />`}
      </div>
      <div>
        <h3>Backup durations</h3>
        ${durations && html`<${TimeChart} data=${durations} format=${seconds} name="durations" />`}
      </div>
    </div>
    <h3>Stored bytes per target</h3>
    <${StoredBars} jobs=${jobs} />
  </section>`;
}
