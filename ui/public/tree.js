// A snapshot's files, one folder at a time (each opened folder is one `ls`), with download and restore per entry.
// `reveal` (a path `find` answered) opens the folders down to it and marks it.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, bytes, query, time } from './api.js';
import { RestorePanel } from './restore.js';

const html = htm.bind(h);

export function Tree({ snapshot, reveal }) {
  const [result, setResult] = useState(undefined);
  const [restoring, setRestoring] = useState(undefined);
  const actions = { onResult: setResult, onRestore: setRestoring, reveal };
  return html`<div class="tree">
    <h3>${snapshot.job} ${snapshot.id} @ ${snapshot.target}</h3>
    ${result && html`<p class=${result.error ? 'error' : 'note result'}>${result.error ?? result.text}</p>`}
    ${
      restoring &&
      html`<${RestorePanel} snapshot=${snapshot} path=${restoring} key=${restoring} onDone=${(r) => (setRestoring(undefined), r && setResult(r))} />`
    }
    <${Folder} snapshot=${snapshot} path="" actions=${actions} open=${true} />
  </div>`;
}

const downloadHref = (snapshot, path) => `/api/download?${query({ id: snapshot.id, job: snapshot.job, target: snapshot.target, path })}`;

/** Whether `path` is `reveal` or a folder above it. */
const leadsTo = (reveal, path) => reveal !== undefined && (reveal === path || reveal.startsWith(`${path}/`));

function Folder({ snapshot, path, actions, open: startOpen = false }) {
  const [open, setOpen] = useState(startOpen || leadsTo(actions.reveal, path));
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
      ${error && html`<li class="error">${error}</li>`} ${children === null && html`<li class="loading">…</li>`}
      ${(children ?? []).map((c) =>
        c.type === 'directory'
          ? html`<li class=${mark('dir', c, actions)} data-path=${c.path}><${Folder} snapshot=${snapshot} path=${c.path} actions=${actions} /></li>`
          : html`<li class=${mark('file', c, actions)} data-path=${c.path}><${Entry} snapshot=${snapshot} entry=${c} actions=${actions} /></li>`,
      )}
    </ul>`;
  if (path === '') return list;
  const name = path.split('/').at(-1);
  return html`<span>
      <a href="#" class="folder" data-path=${path} onClick=${(e) => (e.preventDefault(), setOpen(!open))}>${open ? '▾' : '▸'} ${name}/</a>
      <a class="download" href=${downloadHref(snapshot, path)} download=${`${name}.tar.gz`}>tar.gz</a>
      <button class="small restore" onClick=${() => actions.onRestore(path)}>restore…</button>
    </span>
    ${list}`;
}

const mark = (kind, entry, actions) => (entry.path === actions.reveal ? `${kind} revealed` : kind);

function Entry({ snapshot, entry, actions }) {
  return html`<span
    >${entry.name} <small>${bytes(entry.size)} ${time(entry.mtime)}</small>
    ${entry.type === 'file' && html`<a class="download" href=${downloadHref(snapshot, entry.path)} download=${entry.name}>download</a>`}
    <button class="small restore" onClick=${() => actions.onRestore(entry.path)}>restore…</button>
  </span>`;
}
