/**
 * Debian's headless Chromium (installed by .ci/run) driven through
 * puppeteer-core, for the dashboard's tests in a real browser; and the
 * screenshots of docs/ui.md, which the same tests take and write only when
 * UPDATE_SCREENSHOTS=1 (so that a test run never changes the work tree).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

function chromiumPath(): string {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      // Try the next name.
    }
  }
  throw new Error('no Chromium on PATH: .ci/run installs Debian\'s "chromium"');
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    // A loaded machine may take long to start it.
    timeout: 120_000,
    protocolTimeout: 120_000,
  });
}

/** A new page of its own (cookies included: an incognito context), its downloads kept in a fresh folder. */
export async function newPage(browser: Browser): Promise<{ page: Page; downloads: string; close(): Promise<void> }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.setViewport({ width: 1200, height: 800 });
  const downloads = await mkdtemp(join(tmpdir(), 'failsafe-downloads-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, browserContextId: context.id });
  return {
    page,
    downloads,
    close: async () => {
      await context.close();
      await rm(downloads, { recursive: true, force: true });
    },
  };
}

/** The bytes of the file named `name` once the browser has finished downloading it into `folder`. */
export async function downloaded(folder: string, name: string, timeoutMs = 60_000): Promise<Buffer> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const names = await readdir(folder);
    if (names.includes(name) && !names.some((n) => n.endsWith('.crdownload'))) return readFile(join(folder, name));
    if (Date.now() > until) throw new Error(`no download "${name}" in ${timeoutMs} ms (found: ${names.join(', ') || 'nothing'})`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** A new page logged in to the dashboard with the token of its address, on the overview. */
export async function loggedIn(browser: Browser, ui: { url: string; token: string }): Promise<Awaited<ReturnType<typeof newPage>>> {
  const opened = await newPage(browser);
  try {
    await opened.page.goto(`${ui.url}#token=${ui.token}`);
    await opened.page.waitForSelector('tr[data-job]');
    return opened;
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/** Clicks the element in the page (a DOM click: no mouse, so nothing else on the page can take it). */
export const click = (page: Page, selector: string): Promise<void> => page.$eval(selector, (e) => (e as unknown as { click(): void }).click());
export const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');

/** Switches the dashboard to the view `name` and waits for `ready`. */
export async function view(page: Page, name: string, ready: string): Promise<void> {
  await click(page, `nav button[data-view="${name}"]`);
  await page.waitForSelector(ready);
}

const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'ui');

/**
 * A screenshot of the page for docs/ui.md, written only when
 * UPDATE_SCREENSHOTS=1. The test's temporary folder (`root`) is shown as a
 * plausible deployment's, so that no path of the machine that took it is.
 */
export async function screenshot(page: Page, name: string, root?: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  await mkdir(SCREENSHOTS, { recursive: true });
  if (root) {
    // A string, as this file is compiled without the DOM's types.
    await page.evaluate(`(() => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) node.textContent = node.textContent.split(${JSON.stringify(root)}).join('/srv/planter');
    })()`);
  }
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) as `${string}.png`, fullPage: true });
}
