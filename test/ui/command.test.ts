/** `failsafe ui` as a real process: prints where to log in, answers with the token only, stops on SIGTERM; refuses a network address unasked. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');

describe('failsafe ui', () => {
  it('prints its address and token, serves the API to that token alone, and exits 0 on SIGTERM', async () => {
    const d = await makeDeployment({ extraYaml: 'ui: { listen: "127.0.0.1:0" }' });
    const child = spawn(process.execPath, [bin, 'ui', '-c', d.config, '--json'], { env: { PATH: process.env.PATH, ...PASS } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    // Waits for the one line it prints when listening, or for its end; no time limit of its own beyond the test's.
    await new Promise<void>((done) => {
      child.stdout.on('data', () => stdout.includes('\n') && done());
      void exited.then(() => done());
    });
    const { url, token, address } = JSON.parse(stdout) as { url: string; token: string; address: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(address).toBe(`${url}#token=${token}`);
    expect((await fetch(`${url}api/overview`)).status).toBe(401);
    const login = await fetch(`${url}api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const overview = (await (await fetch(`${url}api/overview`, { headers: { Cookie: cookie } })).json()) as { jobs: { job: string }[] };
    expect(overview.jobs.map((j) => j.job)).toEqual(['app']);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
  });

  it("is served by the daemon too when the YAML has ui:, with its address in the daemon's log", async () => {
    const d = await makeDeployment({ extraYaml: 'ui: { listen: "127.0.0.1:0" }', jobs: appJob('schedule: "0 3 * * *"') });
    const child = spawn(process.execPath, [bin, 'daemon', '-c', d.config], { env: { PATH: process.env.PATH, ...PASS } });
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const address = await new Promise<string | undefined>((done) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const found = /dashboard: (\S+)/.exec(stderr);
        if (found) done(found[1]);
      });
      void exited.then(() => done(undefined));
    });
    expect(address, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=/);
    const [url, token] = address!.split('#token=') as [string, string];
    const login = await fetch(`${url}api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const overview = (await (await fetch(`${url}api/overview`, { headers: { Cookie: cookie } })).json()) as { jobs: { schedule: string }[] };
    expect(overview.jobs.map((j) => j.schedule)).toEqual(['0 3 * * *']);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/daemon stopped/);
  });

  it('refuses an address beyond loopback without --insecure-listen (exit 2), and a malformed one', async () => {
    const d = await makeDeployment();
    const wide = await runCli(['ui', '--listen', '0.0.0.0:0', '-c', d.config], PASS);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(/--insecure-listen \[E_USAGE\]/);
    const bad = await runCli(['ui', '--listen', 'localhost', '-c', d.config], PASS);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not host:port/);
  });
});
