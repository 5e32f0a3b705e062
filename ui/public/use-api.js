// What every view does: load one API route, and show its error.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);

/** Loads `path` (again when `deps` change; nothing while it is undefined): [data, error, reload]. */
export function useApi(path, deps = []) {
  const [state, setState] = useState({});
  const load = () =>
    api(path).then(
      (data) => setState({ data }),
      (error) => setState({ error: error.message }),
    );
  useEffect(() => void (path !== undefined && load()), deps);
  return [state.data, state.error, load];
}

export const Problem = ({ error }) => error && html`<p class="error">${error}</p>`;
