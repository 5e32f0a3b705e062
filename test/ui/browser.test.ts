/**
 * The dashboard in a real browser (Debian's headless Chromium, installed by
 * .ci/run): the page's modules load under its content security policy, the
 * token in the address logs in, and the overview shows the job; without the
 * token the page shows only the login form.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

/** The DOM after the page has run: virtual time stands still while the page waits for the server, so a busy machine only makes it slower. */
async function renderedDom(url: string): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'failsafe-chromium-'));
  try {
    const args = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--virtual-time-budget=20000', '--dump-dom', url];
    const child = spawn('chromium', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let dom = '';
    child.stdout.on('data', (c: Buffer) => (dom += c.toString()));
    const code = await new Promise<number | null>((done, fail) => child.once('error', fail).once('close', done));
    expect(code).toBe(0);
    return dom;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

describe('the dashboard in a browser', () => {
  it('logs in with the token of the address and shows the overview; without it, only the login form', async () => {
    dashboard = await startDashboard();
    const [snapshot] = (await dashboard.failsafe.backup()).snapshots;
    const dom = await renderedDom(`${dashboard.ui.url}#token=${dashboard.ui.token}`);
    expect(dom).toMatch(/<tr data-job="app"><td>app<\/td><td><span class="health ok">ok<\/span>/);
    expect(dom).toContain(`${snapshot!.files} files`);
    const refused = await renderedDom(dashboard.ui.url);
    expect(refused).toContain('<form class="login">');
    expect(refused).not.toContain('data-job');
  });
});
