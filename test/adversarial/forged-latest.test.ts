/**
 * Forged and replayed snapshots that aim at `latest` or at the listing: a
 * snapshot dated in the future never becomes `latest` (restore, drill) nor
 * pushes real snapshots out of retention; a header changed without its body
 * is refused; one id stored in both formats is named, not listed twice.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { forgeSnapshot, ID, JOB, type Json } from './forge.js';

const FUTURE_ID = '20990101T000000Z-f0f0f0';
const FUTURE = '2099-01-01T00:00:00.000Z';

/** A genuine-looking snapshot (ID, 2026) holding `real`, and a forged one dated 2099 holding `forged`. */
async function withFutureForgery(): Promise<{ config: string; root: string; target: string }> {
  const d = await makeDeployment({ encryption: 'encryption: none' });
  await forgeSnapshot(d.target, { entries: [{ path: 'file.txt', body: Buffer.from('real') }] });
  const dated = (json: Json): void => void (json.createdAt = FUTURE);
  await forgeSnapshot(d.target, { id: FUTURE_ID, entries: [{ path: 'file.txt', body: Buffer.from('forged') }], body: dated, header: dated });
  return { config: d.config, root: d.root, target: d.target };
}

describe('a snapshot dated in the future', () => {
  it('is listed but restore latest takes the newest snapshot dated up to now', async () => {
    const d = await withFutureForgery();
    const list = await runCli(['list', '--json', '-c', d.config]);
    expect(list.code).toBe(0);
    expect(list.json().map((s: { id: string }) => s.id)).toEqual([FUTURE_ID, ID]);
    const dest = join(d.root, 'dest');
    const r = await runCli(['restore', 'latest', '--to', dest, '--yes', '--json', '-c', d.config]);
    expect(r.code).toBe(0);
    expect(await readFile(join(dest, 'data', 'file.txt'), 'utf8')).toBe('real');
  });

  it('is not what a drill restores', async () => {
    const d = await withFutureForgery();
    await mkdir(join(d.root, 'scratch'));
    const r = await runCli(['drill', '--json', '--scratch', join(d.root, 'scratch'), '-c', d.config]);
    expect(r.code).toBe(0);
    expect(JSON.stringify(r.json())).toContain(ID);
    expect(JSON.stringify(r.json())).not.toContain(FUTURE_ID);
  });

  it('alone is not latest: restore latest says so and exits with E_SNAPSHOT_NOT_FOUND', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    const dated = (json: Json): void => void (json.createdAt = FUTURE);
    await forgeSnapshot(d.target, { id: FUTURE_ID, entries: [{ path: 'file.txt' }], body: dated, header: dated });
    const r = await runCli(['restore', 'latest', '--to', join(d.root, 'dest'), '--yes', '-c', d.config]);
    expect(r.stderr).toContain('E_SNAPSHOT_NOT_FOUND');
    expect(r.stderr).toContain('dated in the future');
  });

  it('makes status warn and does not count as the last success', async () => {
    const d = await withFutureForgery();
    const r = await runCli(['status', '--json', '-c', d.config]);
    const job = r.json().jobs[0];
    expect(job.lastSuccess).toBe('2026-01-01T00:00:00.000Z');
    expect(job.problems.join('\n')).toContain(`${FUTURE_ID} is dated in the future`);
  });
});

/** With `encryption: none` the checksum covers the body alone: a header changed without its body must still be caught. */
describe('a header changed without its body (encryption: none)', () => {
  const changes: [string, (header: Json) => void][] = [
    ['dated later, to become latest', (h) => void (h.createdAt = '2026-06-01T00:00:00.000Z')],
    ['another file count', (h) => void (h.stats.files = 7)],
    ['another byte count', (h) => void (h.stats.bytes = 123)],
    ['another segment count', (h) => void (h.stats.segments = 2)],
  ];
  it.each(changes)('%s: restore and verify --read-data exit 3 with E_CORRUPT', async (_what, change) => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await forgeSnapshot(d.target, { entries: [{ path: 'file.txt' }], header: change });
    const restore = await runCli(['restore', ID, '--to', join(d.root, 'dest'), '--yes', '-c', d.config]);
    expect(restore.stderr).toContain('does not match its header');
    expect(restore.code).toBe(3);
    const verify = await runCli(['verify', ID, '--read-data', '--json', '-c', d.config]);
    expect(verify.json().errors).toEqual([expect.objectContaining({ code: 'E_CORRUPT', id: ID })]);
    expect(verify.code).toBe(3);
  });
});

/** Format 2 keeps its public header beside a sealed body: a header edited in place must not pass for the sealed one. */
describe('a deduplicating snapshot whose public header was edited', () => {
  const edits: [string, (header: Json) => void][] = [
    ['re-dated', (h) => void (h.createdAt = '2026-12-01T00:00:00.000Z')],
    ['tagged pre-restore, to hide it from latest', (h) => void (h.tags = ['pre-restore'])],
    ['with other counts', (h) => void (h.stats.files += 1)],
    ['with another duration', (h) => void (h.durationMs += 1)],
  ];
  it.each(edits)('%s: restore and verify exit 3 with E_CORRUPT', async (_what, edit) => {
    const d = await makeDeployment({ extraYaml: 'repository: { format: 2 }' });
    const backup = await runCli(['backup', '--json', '-c', d.config], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    const id = backup.json().snapshots[0].id as string;
    const path = join(d.target, 'snapshots', JOB, id);
    const stored = JSON.parse(await readFile(path, 'utf8')) as Json;
    edit(stored);
    await writeFile(path, JSON.stringify(stored));
    const restore = await runCli(['restore', id, '--to', join(d.root, 'dest'), '--yes', '-c', d.config], PASS);
    expect(restore.stderr).toContain('its public header differs from the sealed copy');
    expect(restore.code).toBe(3);
    const verify = await runCli(['verify', id, '--json', '-c', d.config], PASS);
    expect(verify.json().errors).toEqual([expect.objectContaining({ code: 'E_CORRUPT', id })]);
  });
});

describe('one id in both formats', () => {
  it('list names both objects and exits 3 instead of showing the id twice; verify --all exits 3', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await forgeSnapshot(d.target, { entries: [{ path: 'file.txt' }] });
    const other = '20260101T000000Z-0e0e0e';
    await forgeSnapshot(d.target, { id: other, entries: [{ path: 'other.txt' }] });
    // A deduplicating snapshot's public fields (docs/format-v2.md) under the same id: what list reads without a key.
    const v2 = { format: 2, id: ID, job: JOB, createdAt: '2026-01-01T00:00:00.000Z', stats: { files: 1, bytes: 1, chunks: 1, newChunks: 1, storedBytes: 1 } };
    await mkdir(join(d.target, 'snapshots', JOB), { recursive: true });
    await writeFile(join(d.target, 'snapshots', JOB, ID), JSON.stringify({ ...v2, slots: [], body: '', references: '' }));
    const list = await runCli(['list', '--json', '-c', d.config]);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`manifests/${JOB}/${ID}`);
    expect(list.stderr).toContain(`snapshots/${JOB}/${ID}`);
    expect(list.json().map((s: { id: string }) => s.id)).toEqual([other]);
    const verify = await runCli(['verify', '--all', '-c', d.config]);
    expect(verify.code).toBe(3);
  });
});
