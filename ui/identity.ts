/**
 * A public-key-only host (`encryption: { recipients }` without an identity)
 * can list and back up, but not open a snapshot. A session may upload the
 * private identity: it is checked to be one of the recipients and held in
 * that session's memory only — never written, never logged, never sent back
 * — until the session ends (logout, expiry, the server's stop). Browsing,
 * diff, download, restore and drill then work in that session.
 */
import type { Context, Hono } from 'hono';
import type { Failsafe } from '../api/failsafe.js';
import { FailsafeError } from '../core/errors.js';
import type { Auth, Session } from './auth.js';
import { jsonBody } from './routes.js';

/** An identity file is a few hundred bytes: anything past this is not one. */
const MAX_IDENTITY_TEXT = 64 * 1024;

/** What the page shows: whether reading a snapshot needs an identity, and whether this session holds one. */
export function identityState(failsafe: Failsafe, session: Session | undefined): { needed: boolean; held: boolean } {
  return { needed: failsafe.needsIdentity && !session?.reader, held: session?.reader !== undefined };
}

export function registerIdentity(app: Hono, failsafe: Failsafe, auth: Auth): void {
  const sessionOf = (c: Context): Session => auth.session(c)!;
  app.post('/api/identity', async (c) => {
    const { text, passphrase } = await jsonBody(c);
    if (typeof text !== 'string' || text === '' || text.length > MAX_IDENTITY_TEXT) throw new FailsafeError('E_USAGE', 'no identity file was sent');
    if (passphrase !== undefined && typeof passphrase !== 'string') throw new FailsafeError('E_USAGE', 'the passphrase must be text');
    const session = sessionOf(c);
    const reader = await failsafe.withIdentity({ text, name: 'the uploaded identity', ...(passphrase ? { passphrase } : {}) });
    const previous = session.reader;
    session.reader = reader;
    await previous?.close();
    return c.json(identityState(failsafe, session));
  });
  app.delete('/api/identity', async (c) => {
    const session = sessionOf(c);
    const reader = session.reader;
    delete session.reader;
    await reader?.close();
    return c.json(identityState(failsafe, session));
  });
}
