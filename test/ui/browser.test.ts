/**
 * The dashboard in a real browser (Debian's headless Chromium, installed by
 * .ci/run, through puppeteer-core): the page's modules load under its
 * content security policy; the token in the address logs in, and without it
 * the page shows only the login form and the API refuses; a job turns
 * critical when its target's disk is unmounted; a snapshot is browsed and a
 * file and a folder downloaded, byte for byte; a folder is restored to a
 * scratch folder; a backup runs with its progress to 100%; a drill runs with
 * its progress and its time; two snapshots are diffed; another site's POST
 * is refused. The same tests take docs/ui.md's screenshots
 * (UPDATE_SCREENSHOTS=1).
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appJob } from '../helpers/cli.js';
import { click, downloaded, launchBrowser, loggedIn, newPage, screenshot, textOf, view } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';
import { untar } from '../helpers/untar.js';

let browser: Browser;
let dashboard: Dashboard | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeAll(async () => {
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => browser?.close());
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
  await dashboard?.close();
  dashboard = undefined;
});

/** A logged-in page on the overview. */
async function openDashboard(d: Dashboard): Promise<{ page: Page; downloads: string }> {
  const opened = await loggedIn(browser, d.ui);
  cleanups.push(opened.close);
  return opened;
}

/** Opens the folders of `path` one after the other in the open snapshot's tree. */
async function openFolders(page: Page, path: string): Promise<void> {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i += 1) {
    const folder = parts.slice(0, i).join('/');
    await click(page, `.tree a.folder[data-path="${folder}"]`);
    await page.waitForSelector(`.tree li.dir[data-path="${folder}"] > ul > li:not(.loading)`);
  }
}

describe('the dashboard in a browser', () => {
  it('logs in with the token of the address and shows the overview and its charts; without it, only the login form, and the API refuses', async () => {
    dashboard = await startDashboard();
    await dashboard.failsafe.backup();
    const [snapshot] = (await dashboard.failsafe.backup()).snapshots;
    const { page } = await openDashboard(dashboard);
    expect(await textOf(page, 'tr[data-job="app"]')).toContain(`${snapshot!.files} files`);
    expect(await textOf(page, 'tr[data-job="app"] .health')).toBe('ok');
    // The charts: sizes and durations over time drawn by uPlot (each legend names its series), and a bar per target.
    await page.waitForSelector('.charts .chart.sizes canvas');
    expect(await textOf(page, '.charts .chart.sizes .u-legend')).toMatch(/app size[\s\S]*app stored/);
    await page.waitForSelector('.charts .chart.durations canvas');
    expect(await textOf(page, '.charts .chart.durations .u-legend')).toContain('app duration');
    // Each backup recorded how long it took, in its public header.
    const durations = (await dashboard.failsafe.list()).map((s) => s.durationMs);
    expect(durations).toHaveLength(2);
    for (const ms of durations) expect(ms).toBeGreaterThan(0);
    const stored = (await dashboard.failsafe.status()).jobs[0]!.targets[0]!.storedBytes;
    expect(stored).toBeGreaterThan(0);
    expect(await textOf(page, 'table.stored tr[data-target="disk"]')).toMatch(/^disk\d/);
    // The token left the address bar at once.
    expect(page.url()).not.toContain('token');
    await screenshot(page, 'overview', dashboard.deployment.root);

    const stranger = await newPage(browser);
    cleanups.push(stranger.close);
    await stranger.page.goto(dashboard.ui.url);
    await stranger.page.waitForSelector('form.login');
    expect(await stranger.page.$('tr[data-job]')).toBeNull();
    await screenshot(stranger.page, 'login', dashboard.deployment.root);
    const refused = await stranger.page.evaluate(async () => {
      const res = await fetch('/api/snapshots');
      return { status: res.status, body: await res.text() };
    });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('E_UI_LOGIN');
    expect(refused.body).not.toContain(snapshot!.id);
  });

  it('shows a job turn critical when the disk of its target is unmounted', async (ctx) => {
    dashboard = await startDashboard({ targets: 'targets:\n  disk: { type: local, path: ./usb/target, requireMount: true }' });
    const disk = join(dashboard.deployment.root, 'usb');
    await mkdir(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk], { stdio: 'ignore' });
    } catch {
      return ctx.skip(); // Mounting needs root with CAP_SYS_ADMIN, as CI has.
    }
    let mounted = true;
    cleanups.push(() => mounted && execFileSync('umount', [disk]));
    await dashboard.failsafe.backup();
    const { page } = await openDashboard(dashboard);
    expect(await textOf(page, 'tr[data-job="app"] .health')).toBe('ok');
    execFileSync('umount', [disk]);
    mounted = false;
    await page.reload();
    await page.waitForSelector('tr[data-job="app"] .health.critical');
    expect(await textOf(page, 'tr[data-job="app"]')).toMatch(/no snapshot yet|no target can be read/);
  });

  it('browses a snapshot, downloads a file and a folder byte for byte, and restores a folder to a scratch folder', async () => {
    dashboard = await startDashboard();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const { page, downloads } = await openDashboard(dashboard);
    await view(page, 'snapshots', `tr[data-id="${id}"]`);
    await click(page, `tr[data-id="${id}"] a`);
    await page.waitForSelector('.tree a.folder[data-path="data"]');
    await openFolders(page, 'data/photos/2026');
    await screenshot(page, 'snapshot-tree', dashboard.deployment.root);
    const photo = 'data/photos/2026/photo-2.jpg.b64';
    await click(page, `.tree li.file[data-path="${photo}"] a.download`);
    expect(await downloaded(downloads, 'photo-2.jpg.b64')).toEqual(await readFile(join(dashboard.deployment.data, 'photos', '2026', 'photo-2.jpg.b64')));
    await click(page, '.tree li.dir[data-path="data/photos"] > span > a.download');
    const files = (await untar(await downloaded(downloads, 'photos.tar.gz'))).filter((e) => e.type === 'file');
    expect(files.map((e) => e.name)).toEqual([1, 2, 3].map((i) => `photos/2026/photo-${i}.jpg.b64`));
    for (const f of files) expect(f.body).toEqual(await readFile(join(dashboard.deployment.data, f.name)));

    const scratch = join(dashboard.deployment.root, 'scratch');
    await click(page, '.tree li.dir[data-path="data/photos"] > span > button.restore');
    await page.waitForSelector('.restore-panel input[name="to"]');
    await page.type('.restore-panel input[name="to"]', scratch);
    await click(page, '.restore-panel button.do-restore');
    await page.waitForSelector('.tree .result');
    expect(await textOf(page, '.tree .result')).toContain('restored data/photos');
    for (const i of [1, 2, 3]) {
      const name = join('photos', '2026', `photo-${i}.jpg.b64`);
      expect(await readFile(join(scratch, 'data', name))).toEqual(await readFile(join(dashboard.deployment.data, name)));
    }
  });

  it('shows the plan of an in-place restore before anything is replaced', async () => {
    dashboard = await startDashboard();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const { page } = await openDashboard(dashboard);
    await view(page, 'snapshots', `tr[data-id="${id}"]`);
    await click(page, `tr[data-id="${id}"] a`);
    await page.waitForSelector('.tree a.folder[data-path="data"]');
    await click(page, '.tree li.dir[data-path="data"] > span > button.restore');
    await click(page, '.restore-panel input[value="in-place"]');
    await click(page, '.restore-panel button.show-plan');
    await page.waitForSelector('.restore-panel .plan');
    expect(await textOf(page, '.restore-panel .plan')).toContain(dashboard.deployment.data);
    await page.waitForSelector('.restore-panel button.confirm');
    await screenshot(page, 'restore-plan', dashboard.deployment.root);
  });

  it('runs a backup and its progress reaches 100%', async () => {
    dashboard = await startDashboard({ jobs: appJob('retention: { keepLast: 1 }') });
    await dashboard.failsafe.backup();
    const { page } = await openDashboard(dashboard);
    await view(page, 'backup', 'button.backup[data-job="app"]');
    await click(page, 'button.backup[data-job="app"]');
    await page.waitForSelector('.run .snapshot');
    expect(await textOf(page, '.run .percent')).toBe('100%');
    expect(await page.$eval('.run progress', (e) => (e as unknown as { value: number }).value)).toBe(100);
    expect(await textOf(page, '.run')).toContain('backup finished');
    await screenshot(page, 'backup', dashboard.deployment.root);
  });

  it('runs a drill now: its progress comes live, then the time it took to restore and check the latest snapshot', async () => {
    dashboard = await startDashboard();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const { page } = await openDashboard(dashboard);
    await view(page, 'backup', 'button.drill[data-job="app"]');
    await click(page, 'button.drill[data-job="app"]');
    await page.waitForSelector('.run .drill-job');
    expect(await textOf(page, '.run .drill-job')).toMatch(new RegExp(`drill app: snapshot ${id} restored and checked in \\d+\\.\\d s \\(\\d+ entries`));
    // Progress came as the drill ran: the last one names what it restored of the whole.
    expect(await textOf(page, '.run .progress')).toMatch(/app: \d+ of \d+ entries, .* restored and checked/);
    expect(await textOf(page, '.run .percent')).toBe('100%');
    expect(await textOf(page, '.run')).toContain('drill finished');
    await screenshot(page, 'drill', dashboard.deployment.root);
  });

  it('shows the diff of two ticked snapshots: a file added, one changed, one removed', async () => {
    dashboard = await startDashboard();
    const before = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const data = dashboard.deployment.data;
    await writeFile(join(data, 'added.txt'), 'new\n');
    await writeFile(join(data, 'readings.csv'), 'changed,readings\n1,2,3\n');
    await rm(join(data, 'README.txt'));
    const after = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const { page } = await openDashboard(dashboard);
    await view(page, 'snapshots', `tr[data-id="${after}"]`);
    // Ticked newest first: the diff still goes from the older to the newer.
    await click(page, `tr[data-id="${after}"] input[type="checkbox"]`);
    await click(page, `tr[data-id="${before}"] input[type="checkbox"]`);
    await click(page, 'button.diff');
    await page.waitForSelector('.diff h3');
    // The folder holding them may count as changed too (its size, on some file systems).
    expect(await textOf(page, '.diff h3')).toMatch(new RegExp(`^${before} → ${after}: 1 added, 1 removed, [12] changed$`));
    expect(await textOf(page, '.diff li.diff-added')).toContain('data/added.txt');
    expect(await textOf(page, '.diff li.diff-removed')).toContain('data/README.txt');
    expect(await page.$$eval('.diff li.diff-changed', (items) => items.map((i) => i.textContent))).toContainEqual(expect.stringContaining('data/readings.csv'));
    await screenshot(page, 'diff', dashboard.deployment.root);
  });

  it("refuses another site's POST, even with the session's cookie", async () => {
    dashboard = await startDashboard();
    const { page } = await openDashboard(dashboard);
    // Another origin (another port: the same site, so the session cookie goes along) posts a form to the dashboard.
    const evil: Server = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<form method="POST" action="${dashboard!.ui.url}api/backup" enctype="text/plain"><input name='{"jobs":["app"],"x":"' value='"}'></form>
        <script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((done) => evil.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise((done) => evil.close(done)));
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/backup'));
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    const res = await answered;
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('E_UI_CSRF');
    expect(await dashboard.failsafe.list()).toEqual([]);
  });
});
