/**
 * Who may use the dashboard: a login with the token printed at start, a
 * session cookie, a CSRF token per session for every state-changing request,
 * and checks of Host and Origin. The session cookie is SameSite=Strict and
 * HttpOnly; the CSRF token travels in a header a cross-site page cannot set
 * without a CORS preflight, which this server never grants.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { FailsafeError } from '../core/errors.js';
import type { Failsafe } from '../api/failsafe.js';
import { checkPassword } from './password.js';

const COOKIE = 'failsafe_session';
const SESSION_MS = 12 * 3_600_000;
/** Failed logins allowed per client address, and from all addresses together, in one window. */
const LOGIN_LIMITS = { perAddress: 5, overall: 50, windowMs: 60_000 };

export interface Session {
  csrf: string;
  expires: number;
  /** The deployment with the identity this session uploaded, in memory only; closed when the session ends. */
  reader?: Failsafe;
}

export interface AuthOptions {
  token: string;
  /** `ui.passwordHash`: a password that logs in as the token does. */
  passwordHash?: string;
  /** Host headers accepted (the DNS-rebinding guard); undefined accepts any, for a non-loopback listener. */
  hosts?: Set<string>;
  now?: () => number;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
/** Compared as digests, so neither the length nor the content leaks through timing. */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

export class Auth {
  readonly #token: string;
  readonly #passwordHash: string | undefined;
  readonly #hosts: Set<string> | undefined;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Session>();
  readonly #failures = new Map<string, { count: number; since: number }>();

  constructor(options: AuthOptions) {
    this.#token = options.token;
    this.#passwordHash = options.passwordHash;
    this.#hosts = options.hosts;
    this.#now = options.now ?? Date.now;
  }

  /** Every request: a Host this server answers to, and for any other method than GET and HEAD an Origin of its own. */
  guard(): MiddlewareHandler {
    return async (c, next) => {
      const host = c.req.header('host') ?? '';
      if (this.#hosts && !this.#hosts.has(host.toLowerCase())) throw new FailsafeError('E_UI_CSRF', `unexpected Host header "${host}"`);
      if (!['GET', 'HEAD'].includes(c.req.method)) {
        const origin = c.req.header('origin');
        if (origin !== undefined && origin !== `${new URL(c.req.url).protocol}//${host}`)
          throw new FailsafeError('E_UI_CSRF', `cross-site request from ${origin} refused`);
      }
      await next();
    };
  }

  /** The API behind login: a live session, and for state changes its CSRF token in `X-CSRF-Token`. */
  required(): MiddlewareHandler {
    return async (c, next) => {
      const session = this.session(c);
      if (!session) throw new FailsafeError('E_UI_LOGIN', 'log in first: open the address `failsafe ui` printed, with its token');
      if (!['GET', 'HEAD'].includes(c.req.method) && !sameSecret(c.req.header('x-csrf-token') ?? '', session.csrf)) {
        throw new FailsafeError('E_UI_CSRF', 'missing or wrong X-CSRF-Token header');
      }
      await next();
    };
  }

  /** Checks the token (or the password), counting failures per address; on success a new session and its CSRF token. */
  async login(c: Context, token: unknown, address: string): Promise<{ csrf: string }> {
    this.#limit(address);
    const ok =
      typeof token === 'string' &&
      (sameSecret(token, this.#token) || (this.#passwordHash !== undefined && token !== '' && (await checkPassword(token, this.#passwordHash))));
    if (!ok) {
      this.#fail(address);
      throw new FailsafeError('E_UI_LOGIN', this.#passwordHash ? 'wrong token or password' : 'wrong token');
    }
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(32).toString('base64url'), expires: this.#now() + SESSION_MS };
    this.#sessions.set(id, session);
    const secure = new URL(c.req.url).protocol === 'https:';
    setCookie(c, COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: '/', secure, maxAge: SESSION_MS / 1000 });
    return { csrf: session.csrf };
  }

  logout(c: Context): void {
    const id = getCookie(c, COOKIE);
    if (id) void this.#end(id);
    setCookie(c, COOKIE, '', { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 0 });
  }

  /** The caller's live session, if any. */
  session(c: Context): Session | undefined {
    const id = getCookie(c, COOKIE);
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (!session) return undefined;
    if (session.expires < this.#now()) {
      void this.#end(id!);
      return undefined;
    }
    return session;
  }

  /** Every session ends (the server stops): what they held in memory goes with them. */
  async endAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.#end(id)));
  }

  async #end(id: string): Promise<void> {
    const reader = this.#sessions.get(id)?.reader;
    this.#sessions.delete(id);
    await reader?.close().catch(() => undefined);
  }

  #limit(address: string): void {
    for (const [key, max] of [
      [address, LOGIN_LIMITS.perAddress],
      ['*', LOGIN_LIMITS.overall],
    ] as const) {
      const f = this.#failures.get(key);
      if (f && this.#now() - f.since > LOGIN_LIMITS.windowMs) this.#failures.delete(key);
      else if (f && f.count >= max) throw new FailsafeError('E_UI_RATE_LIMIT', 'too many failed logins: wait a minute');
    }
  }

  #fail(address: string): void {
    for (const key of [address, '*']) {
      const f = this.#failures.get(key) ?? { count: 0, since: this.#now() };
      f.count += 1;
      this.#failures.set(key, f);
    }
  }
}
