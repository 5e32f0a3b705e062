// Search by name across snapshots: one `failsafe find <pattern>` (GET /api/find), each match opened in its snapshot's tree.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, bytes, query, time } from './api.js';
import { Problem } from './use-api.js';
import { Tree } from './tree.js';

const html = htm.bind(h);
// A pattern like `*` matches every entry of every snapshot: the rows are drawn a page at a time.
const PAGE = 100;

/** `<source>/<path>`, as the tree and `ls` name an entry (a source's own entry is the source). */
const fullPath = (e) => (e.path === '' || e.path === '.' ? e.source : `${e.source}/${e.path}`);

export function Find() {
  const [form, setForm] = useState({ pattern: '', job: '', target: '' });
  const [found, setFound] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [open, setOpen] = useState(undefined);
  const [shown, setShown] = useState(PAGE);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const search = async (e) => {
    e.preventDefault();
    setOpen(undefined);
    setShown(PAGE);
    setError(undefined);
    setFound(null);
    const params = { pattern: form.pattern.trim(), job: form.job.trim(), target: form.target.trim() };
    await api(`/api/find?${query(params)}`).then(setFound, (err) => (setFound(undefined), setError(err.message)));
  };
  return html`<section>
    <h2>Find by name</h2>
    <form class="filters find" onSubmit=${search}>
      <input name="pattern" placeholder="name or glob: *.csv, data/photos/**" value=${form.pattern} onInput=${set('pattern')} />
      <input name="job" placeholder="job" value=${form.job} onInput=${set('job')} />
      <input name="target" placeholder="target" value=${form.target} onInput=${set('target')} />
      <button type="submit" class="find" disabled=${form.pattern.trim() === ''}>find</button>
    </form>
    <p class="note">A name without "/" matches in any folder; with one, the whole <code>source/path</code>. As <code>failsafe find</code>.</p>
    <${Problem} error=${error} /> ${found === null && html`<p class="loading">Searching…</p>`}
    ${open && html`<${Tree} snapshot=${open.snapshot} reveal=${open.path} key=${`${open.snapshot.target}/${open.snapshot.id}/${open.path}`} />`}
    ${found && html`<${Found} found=${found} shown=${shown} onMore=${() => setShown(shown + PAGE)} onOpen=${setOpen} />`}
  </section>`;
}

function Found({ found, shown, onMore, onOpen }) {
  const snapshots = new Set(found.map((f) => `${f.target}/${f.id}`)).size;
  const reveal = (e, f) => (e.preventDefault(), onOpen({ snapshot: { id: f.id, job: f.job, target: f.target }, path: fullPath(f) }));
  return html`<p class="found-count">${found.length} match(es) in ${snapshots} snapshot(s)</p>
    <table class="found">
      <thead>
        <tr>
          <th>path</th>
          <th>snapshot</th>
          <th>job</th>
          <th>target</th>
          <th>created</th>
          <th>size</th>
          <th>modified</th>
        </tr>
      </thead>
      <tbody>
        ${found.slice(0, shown).map(
          (f) =>
            html`<tr data-id=${f.id} data-path=${fullPath(f)}>
              <td><a href="#" class="reveal" onClick=${(e) => reveal(e, f)}>${fullPath(f)}${f.type === 'directory' ? '/' : ''}</a></td>
              <td>${f.id}</td>
              <td>${f.job}</td>
              <td>${f.target}</td>
              <td>${time(f.createdAt)}</td>
              <td>${f.type === 'file' ? bytes(f.size) : ''}</td>
              <td>${time(f.mtime)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${found.length > shown && html`<p>${shown} of ${found.length} shown <button type="button" class="more" onClick=${onMore}>show more</button></p>`}`;
}
