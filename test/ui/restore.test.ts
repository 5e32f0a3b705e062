/**
 * The dashboard's restores and folder downloads over real HTTP, on a real
 * deployment: a folder as tar.gz holds the backed-up bytes; an in-place
 * restore needs the plan it confirms, stops with nothing changed when the
 * live data changed after the plan was shown, and otherwise replaces it
 * after a safety snapshot, as `failsafe restore` does.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../helpers/ui-client.js';
import { untar } from '../helpers/untar.js';

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

interface Plan {
  plan: string;
  sources: { name: string; destinations: string[]; changes: { replaced: string[]; liveFiles: number } }[];
}

describe('restores and downloads from the dashboard', () => {
  it('downloads a folder as tar.gz with the backed-up bytes, and a whole source', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const res = await c.request('GET', `/api/download?id=${id}&path=data/photos`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toContain('filename="photos.tar.gz"');
    const entries = await untar(Buffer.from(await res.arrayBuffer()));
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['photos', 'directory'],
      ['photos/2026', 'directory'],
      ...[1, 2, 3].map((i) => [`photos/2026/photo-${i}.jpg.b64`, 'file']),
    ]);
    for (const e of entries.filter((x) => x.type === 'file')) {
      expect(e.body).toEqual(await readFile(join(dashboard.deployment.data, e.name)));
    }
    const source = await untar(Buffer.from(await (await c.request('GET', `/api/download?id=${id}&path=data`)).arrayBuffer()));
    expect(source.map((e) => e.name)).toContain('data/README.txt');
  });

  it('restores in place only with the plan it confirms, and stops when the live data changed since', async () => {
    dashboard = await startDashboard();
    const c = dashboard.client();
    await c.login();
    const id = (await dashboard.failsafe.backup()).snapshots[0]!.id;
    const live = join(dashboard.deployment.data, 'README.txt');
    const original = await readFile(live);
    await writeFile(live, 'edited after the backup\n');

    const body = { id, path: 'data/README.txt' };
    const noPlan = await c.request('POST', '/api/restore', { body: { ...body, inPlace: true } });
    expect(noPlan.status).toBe(400);
    const plan = await c.json<Plan>('POST', '/api/restore-plan', body);
    expect(plan.sources[0]!.changes.replaced).toEqual([live]);
    expect(plan.sources[0]!.changes.liveFiles).toBe(1);
    expect(await readFile(live, 'utf8')).toBe('edited after the backup\n');

    // Someone changes the live data after the plan was shown: the confirmation no longer holds.
    await writeFile(live, 'edited again\n');
    await writeFile(join(dashboard.deployment.data, 'new.txt'), 'new\n');
    const stale = await c.json<Plan>('POST', '/api/restore-plan', { id, path: 'data' });
    await writeFile(join(dashboard.deployment.data, 'newer.txt'), 'newer\n');
    const refused = await c.request('POST', '/api/restore', { body: { id, path: 'data', inPlace: true, plan: stale.plan } });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'E_ABORTED',
      message: expect.stringContaining('changed since the plan was shown') as string,
    });
    expect(await readFile(live, 'utf8')).toBe('edited again\n');

    const fresh = await c.json<Plan>('POST', '/api/restore-plan', body);
    const done = await c.json<{ safetySnapshot?: string; sources: { replaced: string[] }[] }>('POST', '/api/restore', {
      ...body,
      inPlace: true,
      plan: fresh.plan,
    });
    expect(done.sources[0]!.replaced).toEqual([live]);
    expect(done.safetySnapshot).toBeDefined();
    expect(await readFile(live)).toEqual(original);
    const both = await c.request('POST', '/api/restore', { body: { ...body, inPlace: true, plan: fresh.plan, to: '/somewhere' } });
    expect(both.status).toBe(400);
  });
});
