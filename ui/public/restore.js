// Restoring a file or folder of a snapshot: into a chosen folder, or in place after the CLI's plan and its confirmation.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, bytes } from './api.js';

const html = htm.bind(h);
const SHOWN = 20;

function Paths({ verb, paths }) {
  if (paths.length === 0) return null;
  return html`<li>
    ${verb} ${paths.length} file(s):
    <ul>
      ${paths.slice(0, SHOWN).map((p) => html`<li><code>${p}</code></li>`)} ${paths.length > SHOWN && html`<li>… and ${paths.length - SHOWN} more</li>`}
    </ul>
  </li>`;
}

/** What `failsafe restore --dry-run` prints, as the page shows it before asking. */
function Plan({ plan }) {
  return html`<div class="plan">
    ${plan.sources.map(
      (s) =>
        html`<p><strong>${s.name}</strong>: ${s.entries} entries, ${bytes(s.bytes)} → ${s.destinations.join(', ')}</p>
          ${
            s.changes &&
            html`<ul>
              <${Paths} verb="creates" paths=${s.changes.created} />
              <${Paths} verb="replaces" paths=${s.changes.replaced} />
              <${Paths} verb="deletes" paths=${s.changes.deleted} />
              ${s.changes.liveFiles > 0 && html`<li class="warning">live data replaced or deleted: ${s.changes.liveFiles} file(s), ${bytes(s.changes.liveBytes)}</li>`}
            </ul>`
          }`,
    )}
  </div>`;
}

const summary = (r, path) => `restored ${path}: ${r.sources.map((s) => `${s.entries} entries to ${s.destinations.join(', ')}`).join('; ')}`;

export function RestorePanel({ snapshot, path, onDone }) {
  const [mode, setMode] = useState('to');
  const [to, setTo] = useState('');
  const [plan, setPlan] = useState(undefined);
  const [state, setState] = useState({});
  const target = { id: snapshot.id, job: snapshot.job, target: snapshot.target, path };
  const run = async (body) => {
    setState({ busy: true });
    try {
      const r = await api('/api/restore', { method: 'POST', body: { ...target, ...body } });
      onDone({ text: `${summary(r, path)}${r.safetySnapshot ? ` (the replaced data was backed up first: snapshot ${r.safetySnapshot})` : ''}` });
    } catch (err) {
      setState({ error: err.message });
    }
  };
  const showPlan = async () => {
    setState({ busy: true });
    try {
      setPlan(await api('/api/restore-plan', { method: 'POST', body: target }));
      setState({});
    } catch (err) {
      setState({ error: err.message });
    }
  };
  return html`<form class="restore-panel" onSubmit=${(e) => e.preventDefault()}>
    <h4>Restore <code>${path}</code></h4>
    <label><input type="radio" name="mode" checked=${mode === 'to'} onChange=${() => (setMode('to'), setPlan(undefined))} /> into a folder of the server</label>
    <label
      ><input type="radio" name="mode" value="in-place" checked=${mode === 'in-place'} onChange=${() => setMode('in-place')} /> in place, where it was backed up
      from</label
    >
    ${
      mode === 'to'
        ? html`<p>
            <input name="to" placeholder="/absolute/folder (nothing there is replaced)" value=${to} onInput=${(e) => setTo(e.target.value)} />
            <button type="button" class="do-restore" disabled=${state.busy || to === ''} onClick=${() => run({ to })}>restore</button>
          </p>`
        : plan
          ? html`<${Plan} plan=${plan} />
              <p>
                <button type="button" class="confirm" disabled=${state.busy} onClick=${() => run({ inPlace: true, plan: plan.plan })}>
                  Replace the live data listed above
                </button>
              </p>`
          : html`<p><button type="button" class="show-plan" disabled=${state.busy} onClick=${showPlan}>show what would be replaced</button></p>`
    }
    ${state.error && html`<p class="error">${state.error}</p>`}
    <button type="button" class="small" onClick=${() => onDone(undefined)}>cancel</button>
  </form>`;
}
