/**
 * The dashboard's defences, over real HTTP against `startUi` on a free port:
 * nothing without the token, no state change from another site, a login
 * that cannot be guessed at speed, loopback unless told otherwise, and no
 * secret of the configuration in any answer.
 */
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/failsafe.js';
import { isFailsafeError } from '../../core/errors.js';
import { startUi } from '../../ui/server.js';
import { makeDeployment, PASS } from '../helpers/cli.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

const errorOf = async (res: Response): Promise<{ status: number; code: string }> => ({
  status: res.status,
  code: ((await res.json()) as { error: { code: string } }).error.code,
});

/** A GET with a Host header of our choosing (fetch will not send one). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { headers: { Host: host } }, (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on('error', fail).end();
  });
}

describe('the dashboard refuses', () => {
  it('every API call without a session, and a wrong token', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    expect(await errorOf(await c.request('GET', '/api/overview'))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
    expect(await errorOf(await c.request('GET', `/api/ls?id=latest`))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
    expect(await errorOf(await c.request('POST', '/api/backup', { body: {} }))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
    expect(await errorOf(await c.login('not the token'))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
    expect(await errorOf(await c.request('GET', '/api/overview'))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
    expect((await c.login()).status).toBe(200);
    expect((await c.request('GET', '/api/overview')).status).toBe(200);
    expect(await dashboard.failsafe.list()).toEqual([]);
  });

  it('a state change without the CSRF token or from another origin, and a foreign Host', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    expect(await errorOf(await c.request('POST', '/api/login', { body: { token: dashboard.ui.token }, headers: { Origin: 'https://evil.example' } }))).toEqual({
      status: 403,
      code: 'E_UI_CSRF',
    });
    expect((await c.login()).status).toBe(200);
    expect(await errorOf(await c.request('POST', '/api/backup', { body: {}, headers: { 'X-CSRF-Token': '' } }))).toEqual({ status: 403, code: 'E_UI_CSRF' });
    expect(await errorOf(await c.request('POST', '/api/backup', { body: {}, headers: { 'X-CSRF-Token': 'guessed' } }))).toEqual({
      status: 403,
      code: 'E_UI_CSRF',
    });
    expect(await errorOf(await c.request('POST', '/api/backup', { body: {}, headers: { Origin: 'https://evil.example' } }))).toEqual({
      status: 403,
      code: 'E_UI_CSRF',
    });
    const restore = await c.request('POST', '/api/restore', { body: { id: 'latest', to: dashboard.deployment.root }, headers: { 'X-CSRF-Token': '' } });
    expect(restore.status).toBe(403);
    // Nothing of it ran: still no snapshot.
    expect(await dashboard.failsafe.list()).toEqual([]);
    // DNS rebinding: a page of another name resolving to 127.0.0.1 is not answered.
    const port = new URL(dashboard.ui.url).port;
    expect(await getWithHost(`${dashboard.ui.url}api/session`, `evil.example:${port}`)).toBe(403);
    expect(await getWithHost(`${dashboard.ui.url}api/session`, `localhost:${port}`)).toBe(401);
  });

  it('logins after five failures from one address, even with the right token', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    for (let i = 0; i < 5; i++) expect((await c.login(`wrong ${i}`)).status).toBe(401);
    expect(await errorOf(await c.login())).toEqual({ status: 429, code: 'E_UI_RATE_LIMIT' });
    expect(await errorOf(await c.request('GET', '/api/overview'))).toEqual({ status: 401, code: 'E_UI_LOGIN' });
  });

  it('to listen beyond loopback without --insecure-listen, and there still asks for the token', async () => {
    const d = await makeDeployment();
    const failsafe = await Failsafe.open(d.config, { env: { ...PASS } });
    try {
      const refused = await startUi(failsafe, { listen: '0.0.0.0:0' }).catch((err: unknown) => err);
      expect(isFailsafeError(refused, 'E_USAGE') && (refused as Error).message).toMatch(/--insecure-listen/);
      const open = await startUi(failsafe, { listen: '0.0.0.0:0', insecureListen: true });
      try {
        const res = await fetch(`http://127.0.0.1:${new URL(open.url).port}/api/overview`);
        expect(res.status).toBe(401);
      } finally {
        await open.close();
      }
    } finally {
      await failsafe.close();
    }
  });
});

describe('the dashboard never sends a secret', () => {
  it('in any answer: not the passphrase, nor S3 credentials of the YAML', async () => {
    const secretKey = 'S3-SECRET-never-to-be-seen-9c1f';
    const accessKey = 'AKIA-ACCESS-never-seen-77';
    const targets = `targets:
  disk: { type: local, path: ./target }
  offsite: { type: s3, bucket: backups, endpoint: "http://127.0.0.1:9", region: us-east-1, credentials: { accessKeyId: ${accessKey}, secretAccessKey: ${secretKey} } }`;
    dashboard = await startDashboard({ targets });
    const c = dashboard.client();
    await c.login();
    const first = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const second = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const q = `job=app&target=disk`;
    for (const path of [
      '/api/overview',
      '/api/snapshots',
      `/api/ls?id=${first}&${q}`,
      `/api/ls?id=${first}&${q}&path=data`,
      `/api/find?pattern=README.txt&${q}`,
      `/api/diff?from=${first}&to=${second}&${q}`,
      `/api/stats?target=disk`,
      `/api/ls?id=nope&${q}`,
      `/api/session`,
    ]) {
      await c.json('GET', path).catch(() => undefined);
    }
    const download = await c.request('GET', `/api/download?id=${first}&${q}&path=config/config.json`);
    expect(download.status).toBe(200);
    c.received.push(await download.text());
    await c.json('POST', '/api/restore', { id: first, job: 'app', target: 'disk', to: 'relative' }).catch(() => undefined);
    await c.json('POST', '/api/restore-plan', { id: first, job: 'app', target: 'disk', path: 'data' });
    expect(c.received.length).toBeGreaterThan(10);
    const all = c.received.join('\n');
    expect(all).toContain(first);
    for (const secret of [PASS.FAILSAFE_PASSPHRASE, secretKey, accessKey, dashboard.ui.token]) expect(all).not.toContain(secret);
  });
});
