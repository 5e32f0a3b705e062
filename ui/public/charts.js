// The overview's charts: each job's snapshot sizes over time (uPlot, served from its installed package), and the bytes each target stores.
// uPlot is imported when a chart is first drawn: the overview's table does not wait for it.
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import { bytes } from './api.js';
import { useApi } from './use-api.js';

const html = htm.bind(h);
const COLORS = ['#2a7ab0', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085'];

/** One series per job and per measure (size, stored), on the snapshots' times, oldest first; a job has no point where another has one. */
export function sizeSeries(snapshots) {
  const own = snapshots.filter((s) => !s.tags.includes('pre-restore')).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const jobs = [...new Set(own.map((s) => s.job))].sort();
  const times = own.map((s) => Date.parse(s.createdAt) / 1000);
  const column = (job, key) => own.map((s) => (s.job === job ? s[key] : null));
  const series = jobs.flatMap((job) => [
    { label: `${job} size`, values: column(job, 'bytes') },
    { label: `${job} stored`, values: column(job, 'storedBytes'), dash: [6, 4] },
  ]);
  return { times, series };
}

function SizeChart({ snapshots }) {
  const at = useRef(null);
  useEffect(() => {
    const { times, series } = sizeSeries(snapshots);
    if (times.length === 0) return undefined;
    let plot;
    let gone = false;
    import('uplot').then(({ default: uPlot }) => {
      if (gone) return;
      plot = new uPlot(
        {
          width: Math.min(1000, at.current.clientWidth || 800),
          height: 240,
          series: [
            {},
            ...series.map((s, i) => ({
              label: s.label,
              stroke: COLORS[Math.floor(i / 2) % COLORS.length],
              dash: s.dash,
              spanGaps: true,
              points: { show: times.length < 60 },
            })),
          ],
          axes: [{}, { values: (_, ticks) => ticks.map((t) => bytes(t)), size: 80 }],
        },
        [times, ...series.map((s) => s.values)],
        at.current,
      );
    });
    return () => {
      gone = true;
      plot?.destroy();
    };
  }, [snapshots]);
  return html`<div class="chart sizes" ref=${at}></div>`;
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
  return html`<section class="charts">
    <h3>Snapshot sizes over time</h3>
    ${error && html`<p class="error">${error}</p>`} ${snapshots && html`<${SizeChart} snapshots=${snapshots} />`}
    <h3>Stored bytes per target</h3>
    <${StoredBars} jobs=${jobs} />
  </section>`;
}
