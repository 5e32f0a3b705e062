/**
 * The dashboard's HTTP application: security headers and checks on every
 * request, the login, the static front-end, then the API (ui/routes.ts for
 * what is read, ui/actions.ts for what changes something), each a thin call
 * of the Failsafe facade.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Failsafe } from '../api/failsafe.js';
import { asFailsafeError, exitCodeOf, ExitCode } from '../core/errors.js';
import { registerActions } from './actions.js';
import { identityState, registerIdentity } from './identity.js';
import { Auth } from './auth.js';
import type { Runs } from './runs.js';
import { jsonBody, registerRoutes } from './routes.js';
import { registerStatic, scriptHashes } from './static.js';

export interface AppOptions {
  token: string;
  passwordHash?: string;
  /** Host headers accepted; undefined accepts any (a non-loopback listener, where the name is not known). */
  hosts?: Set<string>;
  warn?: (message: string) => void;
}

const HTTP_STATUS: Record<string, ContentfulStatusCode> = {
  E_UI_LOGIN: 401,
  E_UI_CSRF: 403,
  E_UI_RATE_LIMIT: 429,
  E_SNAPSHOT_NOT_FOUND: 404,
  E_NOT_FOUND: 404,
  E_LOCKED: 409,
  E_ABORTED: 409,
  E_EXISTS: 409,
};

/** Bad input is the client's (400), an integrity failure or anything else the server's (500). */
function statusOf(code: string, err: unknown): ContentfulStatusCode {
  return HTTP_STATUS[code] ?? (exitCodeOf(err) === ExitCode.usage ? 400 : 500);
}

export async function createApp(failsafe: Failsafe, options: AppOptions): Promise<{ app: Hono; runs: Runs; auth: Auth }> {
  const app = new Hono();
  const auth = new Auth({
    token: options.token,
    ...(options.hosts ? { hosts: options.hosts } : {}),
    ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
  });
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${(await scriptHashes()).join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  app.use(async (c, next) => {
    await next();
    c.header('Content-Security-Policy', csp);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (c.req.path.startsWith('/api/')) c.header('Cache-Control', 'no-store');
  });
  app.use(auth.guard());
  app.onError((err, c) => {
    const e = asFailsafeError(err);
    const status = statusOf(e.code, err);
    if (status === 500) options.warn?.(`ui: ${c.req.method} ${c.req.path}: ${e.message} [${e.code}]`);
    return c.json({ error: { code: e.code, message: e.message.split('\n')[0] } }, status);
  });
  app.post('/api/login', async (c) => {
    const body = await jsonBody(c);
    const { csrf } = await auth.login(c, body.token, clientAddress(c));
    return c.json({ csrf, identity: identityState(failsafe, undefined) });
  });
  app.get('/api/session', (c) => {
    const session = auth.session(c);
    return session
      ? c.json({ csrf: session.csrf, identity: identityState(failsafe, session) })
      : c.json({ error: { code: 'E_UI_LOGIN', message: 'no session' } }, 401);
  });
  app.use('/api/*', auth.required());
  app.post('/api/logout', (c) => {
    auth.logout(c);
    return c.json({ ok: true });
  });
  // A session that uploaded an identity reads with it; any other with the deployment as configured.
  const reader = (c: Context): Failsafe => auth.session(c)?.reader ?? failsafe;
  registerIdentity(app, failsafe, auth);
  registerRoutes(app, failsafe, reader);
  const runs = registerActions(app, failsafe, reader);
  app.all('/api/*', (c) => c.json({ error: { code: 'E_USAGE', message: `no such API: ${c.req.method} ${c.req.path}` } }, 404));
  await registerStatic(app);
  return { app, runs, auth };
}

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
