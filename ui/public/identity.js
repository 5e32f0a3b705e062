// A public-key-only host: which actions need the private identity, and its upload for this session only (held in the server's memory).
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);

export function IdentityBanner({ state, onChange }) {
  const [file, setFile] = useState(undefined);
  const [passphrase, setPassphrase] = useState('');
  const [problem, setProblem] = useState(undefined);
  if (!state || (!state.needed && !state.held)) return null;
  const send = async (method, body) => {
    try {
      onChange(await api('/api/identity', { method, body }));
      setProblem(undefined);
    } catch (err) {
      setProblem(err.message);
    }
  };
  const upload = async (e) => {
    e.preventDefault();
    if (file) await send('POST', { text: await file.text(), ...(passphrase ? { passphrase } : {}) });
  };
  if (state.held)
    return html`<p class="identity identity-held">
      An identity is held for this session only, in the server's memory: it is never written to disk and is gone when you log out or the server stops.
      <button type="button" class="small forget-identity" onClick=${() => send('DELETE')}>forget it</button>
    </p>`;
  return html`<form class="identity identity-needed" onSubmit=${upload}>
    <p>
      This host holds only public keys (<code>encryption: recipients</code>): it backs up, lists and prunes, but opening a snapshot — its files, a diff, a
      download, a restore, a drill — needs the private identity. Upload it for this session only: it is kept in the server's memory, never written to disk.
    </p>
    <input type="file" name="identity" onChange=${(e) => setFile(e.target.files[0])} />
    <input
      type="password"
      name="identity-passphrase"
      autocomplete="off"
      placeholder="its passphrase, if it has one"
      value=${passphrase}
      onInput=${(e) => setPassphrase(e.target.value)}
    />
    <button type="submit" class="upload-identity" disabled=${!file}>use it for this session</button>
    ${problem && html`<span class="error">${problem}</span>`}
  </form>`;
}
