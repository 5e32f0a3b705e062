/**
 * How long the dashboard takes to show a large deployment, in a real
 * browser: 1,000 snapshots and a snapshot of 100,000 files. The numbers are
 * printed, with the load average, and recorded in docs/performance.md; the
 * test asserts only that each view appears and that the tree is drawn one
 * folder at a time (speed is measured, not tested: the machine may be loaded).
 */
import { loadavg } from 'node:os';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillRepository, type BigRepository } from '../helpers/big-repository.js';
import { launchBrowser, newPage } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

const SNAPSHOTS = 1_000;
const TREE_FILES = 100_000;

let dashboard: Dashboard;
let browser: Browser;
let repo: BigRepository;
beforeAll(async () => {
  dashboard = await startDashboard({ encryption: 'encryption: none' });
  repo = await fillRepository(dashboard.failsafe, dashboard.deployment.target, { job: 'app', snapshots: SNAPSHOTS, treeFiles: TREE_FILES });
  browser = await launchBrowser();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

/** Milliseconds, on the page's clock, from `act` until `selector` is on the page. */
async function timed(page: Page, act: () => Promise<unknown>, selector: string): Promise<number> {
  const start = await page.evaluate(() => performance.now());
  await act();
  await page.waitForSelector(selector);
  return Math.round((await page.evaluate(() => performance.now())) - start);
}

const click = (page: Page, selector: string) => () => page.$eval(selector, (e) => (e as unknown as { click(): void }).click());

describe(`the dashboard with ${SNAPSHOTS} snapshots and a ${TREE_FILES}-file snapshot`, () => {
  it('shows the overview, the snapshot list and the big tree, one folder at a time', async () => {
    const { page, close } = await newPage(browser);
    try {
      await page.goto(`${dashboard.ui.url}#token=${dashboard.ui.token}`);
      await page.waitForSelector('tr[data-job="app"]');
      // From the start of navigation: the page, its modules, the login and the overview, first drawn from the newest header.
      const overview = Math.round(await page.evaluate(() => performance.now()));
      expect(await page.$eval('tr[data-job="app"]', (e) => e.textContent)).toContain(`${SNAPSHOTS} snapshots`);
      // Then the full report, every header read: the stored bytes and the charts.
      await page.waitForSelector('section.overview:not([data-partial]) tr[data-job="app"]');
      const complete = Math.round(await page.evaluate(() => performance.now()));

      const list = await timed(page, click(page, 'nav button[data-view="snapshots"]'), `tr[data-id="${repo.big}"]`);
      const tree = await timed(page, click(page, `tr[data-id="${repo.big}"] a`), '.tree a.folder');
      // The first folder waits for what is left of the manifest's decode (the top level is answered before it); the others come from the index.
      const folders: number[] = [];
      for (const path of ['data', 'data/tree', 'data/tree/d0', 'data/tree/d0/s0']) {
        folders.push(await timed(page, click(page, `.tree a.folder[data-path="${path}"]`), `.tree li.dir[data-path="${path}"] > ul > li:not(.loading)`));
      }
      const files = await page.$$eval('.tree li.file[data-path^="data/tree/d0/s0/"]', (items) => items.length);
      expect(files).toBe(100);
      // Lazy: only the opened folders are drawn, never the 100,000 files.
      expect(await page.$$eval('.tree li', (items) => items.length)).toBeLessThan(500);
      // How much of it the server took: the slowest answer of each API route.
      const server = await page.evaluate(() => {
        const slowest: Record<string, number> = {};
        for (const e of performance.getEntriesByType('resource')) {
          const url = new URL(e.name);
          const route = url.pathname + (url.searchParams.has('newest') ? '?newest=1' : '');
          if (route.startsWith('/api/')) slowest[route] = Math.max(slowest[route] ?? 0, Math.round(e.duration));
        }
        return slowest;
      });
      // The same page opened again on the running dashboard: each header was read once, and the static files answer 304.
      await page.reload();
      await page.waitForSelector('tr[data-job="app"]');
      const again = Math.round(await page.evaluate(() => performance.now()));
      const timings = { overview, complete, list, tree, folders, again };
      console.log(`of which the server's answers (ms): ${JSON.stringify(server)}`);
      console.log(
        `page load with ${SNAPSHOTS} snapshots and a ${TREE_FILES}-file tree (ms): ${JSON.stringify(timings)}, load average ${loadavg()
          .map((n) => n.toFixed(2))
          .join(' ')}`,
      );
    } finally {
      await close();
    }
  }, 300_000);
});
