// The dashboard's page: a login, then its views (overview, snapshots, find, backup now, prune preview).
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { login, resume } from './api.js';
import { IdentityBanner } from './identity.js';
import { Find } from './find.js';
import { BackupNow } from './run.js';
import { Overview, PrunePreview, Snapshots } from './views.js';

const html = htm.bind(h);

function Login({ onDone, error }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState(error);
  const submit = async (e) => {
    e.preventDefault();
    try {
      onDone(await login(token.trim()));
    } catch (err) {
      setProblem(err.message);
    }
  };
  return html`<form class="login" onSubmit=${submit}>
    <h1>Failsafe</h1>
    <p>Paste the token <code>failsafe ui</code> printed (or open the address it printed), or the password set in the YAML.</p>
    <input type="password" autocomplete="off" placeholder="token or password" value=${token} onInput=${(e) => setToken(e.target.value)} />
    <button type="submit">Log in</button>
    ${problem && html`<p class="error">${problem}</p>`}
  </form>`;
}

const VIEWS = { overview: Overview, snapshots: Snapshots, find: Find, backup: BackupNow, prune: PrunePreview };

function App() {
  const [state, setState] = useState({ phase: 'starting' });
  const [view, setView] = useState('overview');
  useEffect(() => {
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    // The token leaves the address bar (and the history) at once.
    if (token) history.replaceState(null, '', location.pathname);
    const start = token ? login(token).catch(() => undefined) : resume();
    start.then((identity) => setState({ phase: identity ? 'in' : 'out', identity, error: token && !identity ? 'that token was refused' : undefined }));
  }, []);
  if (state.phase === 'starting') return html`<p>Loading…</p>`;
  if (state.phase === 'out') return html`<${Login} error=${state.error} onDone=${(identity) => setState({ phase: 'in', identity })} />`;
  const View = VIEWS[view];
  return html`<header>
      <strong>Failsafe</strong>
      <nav>
        ${Object.keys(VIEWS).map(
          (name) =>
            html`<button data-view=${name} class=${name === view ? 'active' : ''} onClick=${() => setView(name)}>
              ${name === 'backup' ? 'backup now' : name === 'prune' ? 'prune preview' : name}
            </button>`,
        )}
      </nav>
    </header>
    <${IdentityBanner} state=${state.identity} onChange=${(identity) => setState({ ...state, identity })} />
    <!-- Drawn again when the session's identity comes or goes: what failed without it is read again. -->
    <${View} key=${state.identity?.held ? 'with identity' : 'without'} />`;
}

render(html`<${App} />`, document.getElementById('app'));
