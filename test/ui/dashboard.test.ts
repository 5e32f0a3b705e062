/**
 * The dashboard's pages and actions over real HTTP, on a real deployment
 * (local target, passphrase): the overview after a backup, the snapshot list
 * and its filters, a snapshot's tree one folder at a time, a diff, a backup
 * started from the page followed to its end as server-sent events, a restore
 * of one file to a chosen folder, and the download of one file.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TreeNode } from '../../ui/listings.js';
import { appJob } from '../helpers/cli.js';
import { readEvents, startDashboard, type Dashboard } from '../helpers/ui-client.js';

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

interface Overview {
  health: string;
  jobs: { job: string; health: string; problems: string[]; lastSuccess?: string; lastSize?: { files: number }; nextRun?: string; schedule?: string }[];
}
interface Listing {
  snapshot: string;
  children: TreeNode[];
}

describe('the dashboard', () => {
  it('shows a job critical before its first backup, then ok with its last success and size', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const before = await c.json<Overview>('GET', '/api/overview');
    expect(before.jobs.map((j) => [j.job, j.health, j.problems])).toEqual([['app', 'critical', ['no snapshot yet']]]);
    const [snapshot] = (await dashboard.failsafe.backup()).snapshots;
    const after = await c.json<Overview>('GET', '/api/overview');
    expect(after.health).toBe('ok');
    expect(after.jobs[0]).toMatchObject({ job: 'app', health: 'ok', lastSuccess: snapshot!.createdAt, lastSize: { files: snapshot!.files } });
  });

  it('tells each scheduled job its next run', async () => {
    const jobs = `jobs:
  app:
    sources: [ { type: directory, path: ./app/data } ]
    targets: [disk]
    schedule: "0 3 * * *"`;
    dashboard = await startDashboard({ jobs, extraYaml: 'timeZone: UTC' });
    const c = dashboard.client();
    await c.login();
    const [job] = (await c.json<Overview>('GET', '/api/overview')).jobs;
    expect(job!.schedule).toBe('0 3 * * *');
    expect(job!.nextRun).toMatch(/T03:00:00\.000Z$/);
    expect(Date.parse(job!.nextRun!)).toBeGreaterThan(Date.now());
  });

  it('lists snapshots with filters, browses one folder at a time, and diffs two', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const first = (await dashboard.failsafe.backup([], { tags: ['before'] })).snapshots[0]!.id;
    await writeFile(join(dashboard.deployment.data, 'added.txt'), 'new\n');
    const second = (await dashboard.failsafe.backup()).snapshots[0]!.id;

    const all = await c.json<{ id: string; tags: string[] }[]>('GET', '/api/snapshots');
    expect(all.map((s) => s.id)).toEqual([second, first]);
    expect((await c.json<{ id: string }[]>('GET', '/api/snapshots?tag=before')).map((s) => s.id)).toEqual([first]);
    expect(await c.json('GET', '/api/snapshots?job=app&target=disk&tag=nothing')).toEqual([]);

    const top = await c.json<Listing>('GET', `/api/ls?id=${first}`);
    expect(top.children.map((n) => [n.name, n.type])).toEqual([
      ['config', 'directory'],
      ['data', 'directory'],
    ]);
    const data = await c.json<Listing>('GET', `/api/ls?id=${first}&path=data`);
    // Folders first, then files, each by name.
    expect(data.children.map((n) => n.name)).toEqual(['empty-dir', 'photos', 'latest.csv', 'readings.csv', 'README.txt']);
    const photos = await c.json<Listing>('GET', `/api/ls?id=${first}&path=data/photos`);
    expect(photos.children).toEqual([
      { name: '2026', path: 'data/photos/2026', type: 'directory', size: expect.any(Number) as number, mtime: expect.any(String) as string },
    ]);
    const year = await c.json<Listing>('GET', `/api/ls?id=${first}&path=data/photos/2026`);
    expect(year.children.map((n) => [n.path, n.type])).toEqual([1, 2, 3].map((i) => [`data/photos/2026/photo-${i}.jpg.b64`, 'file']));
    const missing = await c.request('GET', `/api/ls?id=${first}&path=data/nothing`);
    expect(missing.status).toBe(400);

    const diff = await c.json<{ added: { path: string }[]; removed: unknown[] }>('GET', `/api/diff?from=${first}&to=${second}`);
    expect(diff.added.map((e) => e.path)).toEqual(['added.txt']);
    expect(diff.removed).toEqual([]);
  });

  it('runs a backup from the page, with progress to its end as server-sent events', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const started = await c.request('POST', '/api/backup', { body: { jobs: ['app'] } });
    expect(started.status).toBe(202);
    const { run } = (await started.json()) as { run: string };
    const events = await readEvents(await c.request('GET', `/api/runs/${run}/events`));
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    const result = (done.data as { ok: boolean; result: { snapshots: { id: string; files: number }[]; failures: unknown[] } }).result;
    expect(result.failures).toEqual([]);
    const [listed] = await dashboard.failsafe.list();
    expect(result.snapshots.map((s) => s.id)).toEqual([listed!.id]);
    // A page that connects after the end still learns it.
    const late = await readEvents(await c.request('GET', `/api/runs/${run}/events`));
    expect(late.at(-1)).toEqual(done);
    const progress = [...events, ...late].filter((e) => e.event === 'progress').map((e) => e.data as { files: number });
    if (progress.length > 0) expect(progress.at(-1)!.files).toBeLessThanOrEqual(listed!.files);
    const unknown = await c.request('POST', '/api/backup', { body: { jobs: ['nope'] } });
    expect(unknown.status).toBe(400);
  });

  it('restores one file to a chosen folder, refuses to replace it there, and downloads one file', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const original = await readFile(join(dashboard.deployment.data, 'photos', '2026', 'photo-2.jpg.b64'));
    const to = join(dashboard.deployment.root, 'restored');
    await mkdir(to);
    const restored = await c.json<{ sources: { name: string; entries: number }[] }>('POST', '/api/restore', {
      id,
      path: 'data/photos/2026/photo-2.jpg.b64',
      to,
    });
    expect(restored.sources.map((s) => s.name)).toEqual(['data']);
    expect(await readFile(join(to, 'data', 'photos', '2026', 'photo-2.jpg.b64'))).toEqual(original);
    await expect(readFile(join(to, 'data', 'photos', '2026', 'photo-1.jpg.b64'))).rejects.toThrow(/ENOENT/);
    const again = await c.request('POST', '/api/restore', { body: { id, path: 'data/photos/2026/photo-2.jpg.b64', to } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('E_ABORTED');

    const download = await c.request('GET', `/api/download?id=${id}&path=data/photos/2026/photo-2.jpg.b64`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toContain('photo-2.jpg.b64');
    expect(Buffer.from(await download.arrayBuffer())).toEqual(original);
    const nothing = await c.request('GET', `/api/download?id=${id}&path=data/nothing`);
    expect(nothing.status).toBe(400);
  });

  it('previews a prune as `prune --dry-run` does, and removes nothing', async () => {
    dashboard = await startDashboard({ jobs: appJob('retention: { keepLast: 1 }') });
    const c = dashboard.client();
    await c.login();
    const older = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const newer = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const report = await c.json<{ dryRun: boolean; snapshots: { id: string; action: string }[] }>('GET', '/api/prune-preview');
    expect(report.dryRun).toBe(true);
    expect(report.snapshots.map((d) => [d.id, d.action])).toEqual(
      expect.arrayContaining([
        [older, 'remove'],
        [newer, 'keep'],
      ]),
    );
    expect((await dashboard.failsafe.list()).map((s) => s.id).sort()).toEqual([older, newer].sort());
  });

  it('serves its page and the modules it imports, under a strict content security policy', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    const page = await c.request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(await page.text()).toContain('/app.js');
    const modules = ['/app.js', '/views.js', '/tree.js', '/restore.js', '/run.js', '/charts.js', '/use-api.js', '/api.js', '/identity.js'];
    for (const path of [...modules, '/vendor/preact.mjs', '/vendor/hooks.mjs', '/vendor/htm.mjs', '/vendor/uplot.mjs']) {
      const res = await c.request('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
      // Loaded again, unchanged: answered from the page's cache after a 304.
      const again = await c.request('GET', path, { headers: { 'If-None-Match': res.headers.get('etag')! } });
      expect(again.status, path).toBe(304);
    }
    // Every module the page imports is preloaded by the page, at once.
    const html = await (await c.request('GET', '/')).text();
    for (const path of [...modules, '/vendor/preact.mjs', '/vendor/hooks.mjs', '/vendor/htm.mjs'])
      expect(html).toContain(`<link rel="modulepreload" href="${path}" />`);
  });
});
