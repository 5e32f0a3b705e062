// The dashboard's calls to its server: JSON in and out, the session's CSRF token on every state change.
let csrf = null;

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(json.error ? `${json.error.message} [${json.error.code}]` : `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return json;
}

/** Logs in; resolves with the session's identity state (ui/identity.ts). */
export async function login(token) {
  const session = await api('/api/login', { method: 'POST', body: { token } });
  csrf = session.csrf;
  return session.identity;
}

/** A reloaded page keeps its session (the cookie) and asks again for the CSRF token: the identity state, or undefined without a session. */
export async function resume() {
  try {
    const session = await api('/api/session');
    csrf = session.csrf;
    return session.identity;
  } catch {
    return undefined;
  }
}

/** Follows a backup or drill started from the page: `progress` events, then one `done`. */
export function follow(run, onEvent) {
  const source = new EventSource(`/api/runs/${encodeURIComponent(run)}/events`);
  source.addEventListener('progress', (e) => onEvent('progress', JSON.parse(e.data)));
  source.addEventListener('done', (e) => {
    source.close();
    onEvent('done', JSON.parse(e.data));
  });
  return source;
}

export const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString();

export function bytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function age(seconds) {
  if (seconds === undefined) return '';
  const s = Math.round(seconds);
  if (s >= 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

export const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
