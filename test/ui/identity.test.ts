/**
 * A public-key-only host (`encryption: { recipients }`, no identity): the
 * page says what needs the private identity, a session uploads it, and a
 * restore then works in that session, and in no other. The identity is held
 * in memory only: no file the dashboard could have written holds its secret.
 */
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNewIdentity } from '../../core/crypto/identity.js';
import { launchBrowser, newPage, screenshot } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';

let browser: Browser;
let dashboard: Dashboard;
/** On "the user's machine": a folder of its own, left out of the search for the secret. */
let identityFile: string;
let secret: { base64: string; bytes: Buffer };
const started = Date.now();

beforeAll(async () => {
  identityFile = join(await mkdtemp(join(tmpdir(), 'identity-elsewhere-')), 'failsafe.identity');
  const publicKey = await writeNewIdentity(identityFile);
  const base64 = (JSON.parse(await readFile(identityFile, 'utf8')) as { secretKey: string }).secretKey;
  secret = { base64, bytes: Buffer.from(base64, 'base64') };
  dashboard = await startDashboard({ encryption: `encryption: { recipients: ["${publicKey}"] }` });
  await dashboard.failsafe.backup();
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

const click = (page: Page, selector: string): Promise<void> => page.$eval(selector, (e) => (e as unknown as { click(): void }).click());
const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');

async function openTree(page: Page, id: string): Promise<void> {
  await click(page, 'nav button[data-view="snapshots"]');
  await page.waitForSelector(`tr[data-id="${id}"]`);
  await click(page, `tr[data-id="${id}"] a`);
}

/** Every file under `dir` changed since the test started. */
async function filesSince(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const recent = await Promise.all(files.map(async (f) => ((await stat(f).catch(() => undefined))?.mtimeMs ?? 0) >= started - 1000));
  return files.filter((_, i) => recent[i]);
}

describe('a public-key-only host', () => {
  it('says what needs the identity; an upload for the session enables a restore, and nothing holds it on disk', async () => {
    const id = (await dashboard.failsafe.list())[0]!.id;
    const { page } = await newPage(browser);
    await page.goto(`${dashboard.ui.url}#token=${dashboard.ui.token}`);
    await page.waitForSelector('form.identity-needed');
    expect(await textOf(page, 'form.identity-needed')).toMatch(/restore[\s\S]*drill[\s\S]*never written to disk/);
    await screenshot(page, 'identity', dashboard.deployment.root);
    // Without it, a snapshot's files cannot be read.
    await openTree(page, id);
    await page.waitForSelector('.tree li.error');
    expect(await textOf(page, '.tree li.error')).toMatch(/E_KEY_MISSING|E_WRONG_KEY/);

    const input = await page.$('form.identity-needed input[type="file"]');
    await input!.uploadFile(identityFile);
    await page.waitForSelector('button.upload-identity:not([disabled])');
    await click(page, 'button.upload-identity');
    await page.waitForSelector('.identity-held');

    await openTree(page, id);
    await page.waitForSelector('.tree a.folder[data-path="data"]');
    const scratch = join(dashboard.deployment.root, 'scratch');
    await click(page, '.tree li.dir[data-path="data"] > span > button.restore');
    await page.waitForSelector('.restore-panel input[name="to"]');
    await page.type('.restore-panel input[name="to"]', scratch);
    await click(page, '.restore-panel button.do-restore');
    await page.waitForSelector('.tree .result');
    expect(await textOf(page, '.tree .result')).toContain('restored data');
    expect(await readFile(join(scratch, 'data', 'readings.csv'))).toEqual(await readFile(join(dashboard.deployment.data, 'readings.csv')));

    // Another session has no identity: the deployment itself still cannot open a snapshot.
    expect(dashboard.failsafe.needsIdentity).toBe(true);
    const other = dashboard.client();
    await other.login();
    expect((await other.json<{ identity: { needed: boolean; held: boolean } }>('GET', '/api/session')).identity).toEqual({ needed: true, held: false });
    const refused = await other.request('GET', `/api/ls?id=${id}&path=`);
    expect(await refused.text()).toMatch(/E_KEY_MISSING|E_WRONG_KEY/);

    // The secret is in no file written since the test began: not in the deployment's folders, nor any temporary folder.
    const searched = [...(await filesSince(dashboard.deployment.root))];
    for (const name of await readdir(tmpdir())) {
      if (name.startsWith('failsafe')) searched.push(...(await filesSince(join(tmpdir(), name))));
    }
    expect(searched.length).toBeGreaterThan(0);
    for (const file of searched) {
      const bytes = await readFile(file).catch(() => Buffer.alloc(0));
      expect(bytes.includes(secret.base64) || bytes.includes(secret.bytes), file).toBe(false);
    }
  }, 180_000);

  it('refuses an identity that is not one of the recipients', async () => {
    const wrong = join(await mkdtemp(join(tmpdir(), 'identity-elsewhere-')), 'other.identity');
    await writeNewIdentity(wrong);
    const c = dashboard.client();
    await c.login();
    const res = await c.request('POST', '/api/identity', { body: { text: await readFile(wrong, 'utf8') } });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('E_WRONG_KEY');
    expect((await c.json<{ identity: { held: boolean } }>('GET', '/api/session')).identity.held).toBe(false);
  });
});
