/**
 * The dashboard's search by name and prune preview in a real browser
 * (Debian's headless Chromium through puppeteer-core, as browser.test.ts):
 * a file found by name in two snapshots and opened in one's tree; the prune
 * preview showing what retention would remove while every snapshot stays.
 * The same tests take docs/ui.md's screenshots of both (UPDATE_SCREENSHOTS=1).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appJob } from '../helpers/cli.js';
import { click, launchBrowser, loggedIn, screenshot, textOf, view } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

let browser: Browser;
let dashboard: Dashboard | undefined;
let closePage: (() => Promise<void>) | undefined;
beforeAll(async () => {
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => browser?.close());
afterEach(async () => {
  await closePage?.();
  await dashboard?.close();
  [closePage, dashboard] = [undefined, undefined];
});

async function open(d: Dashboard): Promise<Awaited<ReturnType<typeof loggedIn>>['page']> {
  const opened = await loggedIn(browser, d.ui);
  closePage = opened.close;
  return opened.page;
}

describe('the dashboard in a browser: find and prune preview', () => {
  it('finds a file by name in two snapshots and opens it in the older one’s tree', async () => {
    dashboard = await startDashboard();
    const data = dashboard.deployment.data;
    await writeFile(join(data, 'photos', '2026', 'planter-log.txt'), 'first\n');
    const older = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    await writeFile(join(data, 'photos', '2026', 'planter-log.txt'), 'second, longer\n');
    await writeFile(join(data, 'other-log.txt'), 'not this name\n');
    const newer = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    await rm(join(data, 'photos', '2026', 'planter-log.txt'));
    const without = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const page = await open(dashboard);

    await view(page, 'find', 'form.find input[name="pattern"]');
    await page.type('form.find input[name="pattern"]', 'planter-*.txt');
    await click(page, 'form.find button.find');
    await page.waitForSelector('table.found tbody tr');
    const path = 'data/photos/2026/planter-log.txt';
    // Newest first, as `failsafe find`: the snapshot without the file has no row, the other name none.
    const rows = await page.$$eval('table.found tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-id'), tr.getAttribute('data-path')]));
    expect(rows).toEqual([
      [newer, path],
      [older, path],
    ]);
    expect(rows.flat()).not.toContain(without);
    expect(await textOf(page, '.found-count')).toBe('2 match(es) in 2 snapshot(s)');
    // The page answers what the API does.
    expect((await dashboard.failsafe.find('planter-*.txt')).map((f) => f.id)).toEqual([newer, older]);

    await click(page, `table.found tr[data-id="${older}"] a.reveal`);
    await page.waitForSelector(`.tree li.file.revealed[data-path="${path}"]`);
    expect(await textOf(page, '.tree h3')).toContain(older);
    // The folders down to it were opened, and the file is the older snapshot's (6 bytes, not the newer 15).
    expect(await textOf(page, `.tree li.file.revealed[data-path="${path}"]`)).toMatch(/^planter-log\.txt 6 B/);
    expect(await page.$$eval('.tree li.file[data-path^="data/photos/2026/"]', (items) => items.length)).toBe(4);
    await screenshot(page, 'find', dashboard.deployment.root);
  });

  it('previews a prune: what retention would remove, and nothing is removed', async () => {
    dashboard = await startDashboard({ jobs: appJob('retention: { keepLast: 1 }') });
    for (let i = 0; i < 3; i += 1) await dashboard.failsafe.backup();
    const before = (await dashboard.failsafe.list()).map((s) => s.id);
    expect(before).toHaveLength(3);
    const page = await open(dashboard);

    await view(page, 'prune', 'table.prune tr.remove');
    const removed = await page.$$eval('table.prune tr.remove', (trs) => trs.map((tr) => tr.getAttribute('data-id')));
    const kept = await page.$$eval('table.prune tr.keep', (trs) => trs.map((tr) => tr.getAttribute('data-id')));
    // keepLast 1: the newest stays, the two before it would go.
    expect(kept).toEqual([before[0]]);
    expect([...removed].sort()).toEqual(before.slice(1).sort());
    expect(await textOf(page, 'table.prune tr.keep')).toContain('last');
    expect(await textOf(page, 'section p')).toMatch(/^\s*2 snapshot\(s\) would be removed, 1 kept/);
    await screenshot(page, 'prune', dashboard.deployment.root);
    // Nothing was changed: the same snapshots, in the list and in the page's own.
    expect((await dashboard.failsafe.list()).map((s) => s.id)).toEqual(before);
    await view(page, 'snapshots', `tr[data-id="${before[2]}"]`);
    expect(await page.$$eval('table.snapshots tbody tr', (trs) => trs.length)).toBe(3);
  });
});
