// A snapshot's files, one folder at a time (each opened folder is one `ls`), with download and restore per entry.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, bytes, query, time } from './api.js';

const html = htm.bind(h);

export function Tree({ snapshot }) {
  const [result, setResult] = useState(undefined);
  return html`<div class="tree">
    <h3>${snapshot.job} ${snapshot.id} @ ${snapshot.target}</h3>
    ${result && html`<p class=${result.error ? 'error' : 'note'}>${result.error ?? result.text}</p>`}
    <${Folder} snapshot=${snapshot} path="" onResult=${setResult} open=${true} />
  </div>`;
}

function Folder({ snapshot, path, onResult, open: startOpen = false }) {
  const [open, setOpen] = useState(startOpen);
  const [children, setChildren] = useState(undefined);
  const [error, setError] = useState(undefined);
  if (open && children === undefined && error === undefined) {
    setChildren(null);
    api(`/api/ls?${query({ id: snapshot.id, job: snapshot.job, target: snapshot.target, path })}`).then(
      (listing) => setChildren(listing.children),
      (err) => setError(err.message),
    );
  }
  const list =
    open &&
    html`<ul>
      ${error && html`<li class="error">${error}</li>`} ${children === null && html`<li>…</li>`}
      ${(children ?? []).map((c) =>
        c.type === 'directory'
          ? html`<li class="dir"><${Folder} snapshot=${snapshot} path=${c.path} onResult=${onResult} /></li>`
          : html`<li class="file" data-path=${c.path}><${Entry} snapshot=${snapshot} entry=${c} onResult=${onResult} /></li>`,
      )}
    </ul>`;
  if (path === '') return list;
  return html`<span>
      <a href="#" class="folder" onClick=${(e) => (e.preventDefault(), setOpen(!open))}>${open ? '▾' : '▸'} ${path.split('/').at(-1)}/</a>
      <${RestoreButton} snapshot=${snapshot} path=${path} onResult=${onResult} />
    </span>
    ${list}`;
}

function Entry({ snapshot, entry, onResult }) {
  const href = `/api/download?${query({ id: snapshot.id, job: snapshot.job, target: snapshot.target, path: entry.path })}`;
  return html`<span
    >${entry.name} <small>${bytes(entry.size)} ${time(entry.mtime)}</small>
    ${entry.type === 'file' && html`<a class="download" href=${href} download=${entry.name}>download</a>`}
    <${RestoreButton} snapshot=${snapshot} path=${entry.path} onResult=${onResult} />
  </span>`;
}

function RestoreButton({ snapshot, path, onResult }) {
  const restore = async () => {
    const to = prompt(`Restore ${path} into which folder on the server? (an absolute path; nothing there is replaced)`);
    if (!to) return;
    try {
      const r = await api('/api/restore', { method: 'POST', body: { id: snapshot.id, job: snapshot.job, target: snapshot.target, path, to } });
      onResult({ text: `restored ${path}: ${r.sources.map((s) => `${s.entries} entries to ${s.destinations.join(', ')}`).join('; ')}` });
    } catch (err) {
      onResult({ error: err.message });
    }
  };
  return html`<button class="small" onClick=${restore}>restore to…</button>`;
}
