/**
 * The dashboard beyond loopback: only over TLS (or with --insecure-listen),
 * and a password whose scrypt hash is in the YAML as an alternative to the
 * printed token. A self-signed certificate is made with openssl for the test.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword, checkPassword } from '../../ui/password.js';
import { startUi, type UiServer } from '../../ui/server.js';
import { runCli } from '../helpers/cli.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

let dashboard: Dashboard | undefined;
let extra: UiServer | undefined;
afterEach(async () => {
  await extra?.close();
  extra = undefined;
  await dashboard?.close();
  dashboard = undefined;
});

function selfSigned(dir: string): { cert: string; key: string } {
  const [cert, key] = [join(dir, 'ui.crt'), join(dir, 'ui.key')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** An HTTPS request that trusts only `ca`: status, headers and body. */
function fetchTls(
  url: string,
  ca: Buffer,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { ca, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end(options.body);
  });
}

describe('the dashboard beyond loopback', () => {
  it('listens on any address over TLS, with a Secure session cookie; without TLS only with --insecure-listen', async () => {
    dashboard = await startDashboard();
    await expect(startUi(dashboard.failsafe, { listen: '0.0.0.0:0' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('ui.tls') as string,
    });
    const files = selfSigned(dashboard.deployment.root);
    extra = await startUi(dashboard.failsafe, { listen: '0.0.0.0:0', tls: files });
    expect(extra.url).toMatch(/^https:\/\/0\.0\.0\.0:\d+\/$/);
    const base = extra.url.replace('0.0.0.0', '127.0.0.1');
    const ca = await readFile(files.cert);
    expect((await fetchTls(base, ca)).status).toBe(200);
    const login = await fetchTls(`${base}api/login`, ca, {
      method: 'POST',
      body: JSON.stringify({ token: extra.token }),
      headers: { 'Content-Type': 'application/json', Origin: base.replace(/\/$/, '') },
    });
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure/);
    await expect(
      startUi(dashboard.failsafe, { listen: '127.0.0.1:0', tls: { cert: files.cert, key: join(dashboard.deployment.root, 'missing.key') } }),
    ).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('logs in with the password whose hash is given, as with the token; refuses a wrong one', async () => {
    const hash = await hashPassword('a long enough password');
    expect(hash).toMatch(/^scrypt\$15\$8\$1\$/);
    expect(await checkPassword('a long enough password', hash)).toBe(true);
    expect(await checkPassword('a long enough passworD', hash)).toBe(false);
    await expect(hashPassword('short')).rejects.toMatchObject({ code: 'E_USAGE' });
    // `failsafe ui --hash-password` reads it on standard input, never as an argument.
    const made = await runCli(['ui', '--hash-password'], {}, 'another long password\n');
    expect(made.code).toBe(0);
    expect(await checkPassword('another long password', made.stdout.trim())).toBe(true);
    dashboard = await startDashboard();
    extra = await startUi(dashboard.failsafe, { listen: '127.0.0.1:0', passwordHash: hash });
    const login = (secret: string): Promise<Response> =>
      fetch(`${extra!.url}api/login`, { method: 'POST', body: JSON.stringify({ token: secret }), headers: { 'Content-Type': 'application/json' } });
    expect((await login('a long enough passworD')).status).toBe(401);
    expect((await login('')).status).toBe(401);
    expect((await login('a long enough password')).status).toBe(200);
    expect((await login(extra.token)).status).toBe(200);
  });
});
