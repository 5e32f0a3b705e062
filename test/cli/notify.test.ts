/** Notifications received by a real local HTTP server: healthchecks-style pings and a JSON webhook. */
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

interface Received {
  method: string;
  url: string;
  type: string | undefined;
  body: string;
}

let server: Server;
let received: Received[];
let base: string;
let status = 200;

beforeEach(async () => {
  received = [];
  status = 200;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, type: req.headers['content-type'], body });
      res.statusCode = status;
      res.end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});
afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('notifications', () => {
  it('a successful backup pings start then success, and posts a JSON report', async () => {
    const d = await makeDeployment({ jobs: appJob(`notify: { ping: "${base}/ping/abc-123", webhook: "${base}/hook" }`) });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(0);
    // The start ping goes before anything is read; success and the webhook go together at the end.
    expect(received[0]).toMatchObject({ method: 'POST', url: '/ping/abc-123/start' });
    expect(
      received
        .slice(1)
        .map((x) => `${x.method} ${x.url}`)
        .sort(),
    ).toEqual(['POST /hook', 'POST /ping/abc-123']);
    const hook = received.find((x) => x.url === '/hook')!;
    expect(hook.type).toBe('application/json');
    const report = JSON.parse(hook.body);
    expect(report).toMatchObject({ job: 'app', event: 'success', failures: [], snapshots: [{ target: 'disk' }] });
    expect(report.snapshots[0].files).toBeGreaterThan(0);
    expect(received.find((x) => x.url === '/ping/abc-123')!.body).toMatch(/^failsafe: app: success at /);
  });

  it('a failed backup pings /fail and the webhook carries the error code', async () => {
    const d = await makeDeployment({ jobs: appJob(`notify: { ping: "${base}/ping/xyz", webhook: "${base}/hook" }`) });
    await rm(d.data, { recursive: true });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(received[0]!.url).toBe('/ping/xyz/start');
    expect(
      received
        .slice(1)
        .map((x) => x.url)
        .sort(),
    ).toEqual(['/hook', '/ping/xyz/fail']);
    const report = JSON.parse(received.find((x) => x.url === '/hook')!.body);
    expect(report).toMatchObject({ job: 'app', event: 'failure', snapshots: [], failures: [{ code: 'E_SOURCE_MISSING' }] });
  });

  it('an endpoint that keeps failing is retried once, then a warning; the backup still succeeds', async () => {
    status = 503;
    const d = await makeDeployment({ jobs: appJob(`notify: { webhook: "${base}/hook/secret-token" }`) });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(0);
    expect(received.filter((x) => x.url === '/hook/secret-token')).toHaveLength(2);
    expect(r.stderr).toMatch(/warning: notification webhook \(success\) to http:\/\/127\.0\.0\.1:\d+ failed: HTTP 503/);
    expect(r.stderr).not.toContain('secret-token');
  });

  it('a URL that is not http(s) is a config error', async () => {
    const d = await makeDeployment({ jobs: appJob(`notify: { ping: "ftp://example.org/x" }`) });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/jobs\.app\.notify\.ping: expected an http:\/\/ or https:\/\/ URL/);
  });
});
