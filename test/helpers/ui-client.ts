/** A dashboard on a free port over a throwaway deployment, and an HTTP client that keeps its session cookie as a browser does. */
import { Failsafe } from '../../api/failsafe.js';
import { startUi, type UiServer } from '../../ui/server.js';
import { makeDeployment, PASS, type Deployment } from './cli.js';

export interface UiClient {
  /** A request with the session cookie, the CSRF token on state changes, and this server's Origin; `headers` override. */
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  login(token?: string): Promise<Response>;
  /** Every body this client received, to look for what must never be sent. */
  received: string[];
}

export interface Dashboard {
  deployment: Deployment;
  failsafe: Failsafe;
  ui: UiServer;
  client(): UiClient;
  close(): Promise<void>;
}

export async function startDashboard(options: Parameters<typeof makeDeployment>[0] = {}, env: NodeJS.ProcessEnv = PASS): Promise<Dashboard> {
  const deployment = await makeDeployment(options);
  const failsafe = await Failsafe.open(deployment.config, { env: { ...env } });
  const ui = await startUi(failsafe, { listen: '127.0.0.1:0' });
  return {
    deployment,
    failsafe,
    ui,
    client: () => client(ui),
    close: async () => {
      await ui.close();
      await failsafe.close();
    },
  };
}

function client(ui: UiServer): UiClient {
  const origin = ui.url.replace(/\/$/, '');
  let cookie = '';
  let csrf = '';
  const received: string[] = [];
  const request: UiClient['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {
      Origin: origin,
      ...(cookie ? { Cookie: cookie } : {}),
      ...(csrf && method !== 'GET' ? { 'X-CSRF-Token': csrf } : {}),
    };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { ...headers, ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    return res;
  };
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await request(method, path, body === undefined ? {} : { body });
    const text = await res.text();
    received.push(text);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const login = async (token = ui.token): Promise<Response> => {
    const res = await request('POST', '/api/login', { body: { token } });
    if (res.ok) csrf = ((await res.clone().json()) as { csrf: string }).csrf;
    received.push(await res.clone().text());
    return res;
  };
  return { request, json, login, received };
}

/** Reads a server-sent events stream to its `done` event: the events in order. */
export async function readEvents(res: Response): Promise<{ event: string; data: unknown }[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return { event, data: JSON.parse(data) as unknown };
    });
}
