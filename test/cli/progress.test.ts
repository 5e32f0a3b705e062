/**
 * Progress of backup, restore, drill, verify, prune and recover: the API's events count up to their totals; the CLI shows
 * nothing when stderr is not a terminal, and with `--progress json` writes one JSON object per line on stderr.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/index.js';
import type { RestoreProgress } from '../../core/restore/run-restore.js';
import { appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const jsonLines = (stderr: string): Record<string, unknown>[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('restore progress', () => {
  it('the API reports staged entries and bytes up to the planned totals, for restore and drill', async () => {
    const d = await makeDeployment();
    const failsafe = await Failsafe.open(d.config, { env: PASS });
    try {
      await failsafe.backup();
      const events: RestoreProgress[] = [];
      const to = await mkdtemp(join(tmpdir(), 'failsafe-progress-'));
      const result = await failsafe.restore('latest', { to, onProgress: (p) => events.push(p) });
      expect(events.length).toBeGreaterThan(0);
      const last = events.at(-1)!;
      const planned = result.sources.reduce((sum, s) => sum + s.bytes, 0);
      expect(last).toMatchObject({ job: 'app', id: result.id, totalBytes: planned, bytes: planned });
      expect(last.entries).toBe(last.totalEntries);
      for (const [i, e] of events.entries()) if (i > 0) expect(e.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);

      const drilled: RestoreProgress[] = [];
      expect((await failsafe.drill([], { onProgress: (p) => drilled.push(p) })).ok).toBe(true);
      expect(drilled.at(-1)).toMatchObject({ id: result.id, bytes: planned, totalBytes: planned });
    } finally {
      await failsafe.close();
    }
  });
});

describe('the CLI', () => {
  it('shows no progress when stderr is not a terminal, and JSON lines with --progress json', async () => {
    const d = await makeDeployment();
    const quiet = await runCli(['backup', '-c', d.config], PASS);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');

    const backup = await runCli(['backup', '-c', d.config, '--progress', 'json', '--json'], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.json().snapshots).toHaveLength(1); // stdout is still one document
    const backupEvents = jsonLines(backup.stderr);
    expect(backupEvents[0]).toMatchObject({ progress: 'backup', job: 'app' });

    const to = await mkdtemp(join(tmpdir(), 'failsafe-progress-'));
    const plain = await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe('');

    const restored = await runCli(['restore', 'latest', '--to', join(to, 'again'), '-c', d.config, '--progress', 'json'], PASS);
    expect(restored.code, restored.stderr).toBe(0);
    const events = jsonLines(restored.stderr);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ progress: 'restore', job: 'app' });
    expect(events.at(-1)!.entries).toBe(events.at(-1)!.totalEntries);

    const drill = await runCli(['drill', '-c', d.config, '--progress', 'json'], PASS);
    expect(drill.code, drill.stderr).toBe(0);
    expect(jsonLines(drill.stderr).at(-1)).toMatchObject({ progress: 'restore', job: 'app' });

    const bad = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--progress', 'loud'], PASS);
    expect(bad.code).toBe(2);
  });

  it('backup --progress json: events reach the totals of a walk beside the run, 100% at the end, nothing when piped', async () => {
    const d = await makeDeployment();
    // Several segments (4 MiB each), so some are stored after everything was read.
    await writeFile(join(d.data, 'big.bin'), randomBytes(24 << 20));
    const backup = await runCli(['backup', '-c', d.config, '--progress', 'json', '--json'], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    const { files, bytes } = backup.json().snapshots[0] as { files: number; bytes: number };
    const events = jsonLines(backup.stderr);
    expect(events.at(-1)).toMatchObject({ progress: 'backup', job: 'app', files, bytesRead: bytes, totalFiles: files, totalBytes: bytes });
    // Random bytes do not compress: the last line counts every segment stored.
    expect(events.at(-1)!.storedBytes as number).toBeGreaterThan(24 << 20);
    for (const e of events) if (e.totalBytes !== undefined) expect(e.bytesRead as number).toBeLessThanOrEqual(e.totalBytes as number);
    const piped = await runCli(['backup', '-c', d.config, '--force-reread'], PASS);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
  });

  it('backup --progress json, format 2: the stored bytes follow the packs uploaded after the reading, up to the last line', async () => {
    const d = await makeDeployment({ extraYaml: 'repository: { format: 2 }' });
    await writeFile(join(d.data, 'big.bin'), randomBytes(24 << 20));
    const backup = await runCli(['backup', '-c', d.config, '--progress', 'json'], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    const last = jsonLines(backup.stderr).at(-1)!;
    // Random bytes do not compress: every pack and the index are counted by the last line.
    expect(last.storedBytes as number).toBeGreaterThan(24 << 20);
  });

  for (const [format, extraYaml] of [
    ['format 1', ''],
    ['format 2', 'repository: { format: 2 }'],
  ] as const) {
    it(`verify --read-data reports the bytes read up to the snapshot's total (${format})`, async () => {
      const d = await makeDeployment({ extraYaml });
      expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
      const piped = await runCli(['verify', '--read-data', '-c', d.config], PASS);
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stderr).toBe('');
      const verified = await runCli(['verify', '--read-data', '--progress', 'json', '-c', d.config, '--json'], PASS);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.json().ok).toBe(true);
      const events = jsonLines(verified.stderr);
      const last = events.at(-1)!;
      expect(last).toMatchObject({ progress: 'verify', job: 'app', target: 'disk' });
      expect(last.totalBytes).toBeGreaterThan(20_000);
      expect(last.bytes).toBe(last.totalBytes);
    });
  }
});

/** Each step's events (by `key`) count up, never past their total, and the last of each stands at its total. */
function expectCountsUp(events: Record<string, unknown>[], key: (e: Record<string, unknown>) => string): string[] {
  const steps = new Map<string, Record<string, unknown>[]>();
  for (const e of events) steps.set(key(e), [...(steps.get(key(e)) ?? []), e]);
  for (const [step, list] of steps) {
    for (const [i, e] of list.entries()) {
      expect(e.done as number, step).toBeLessThanOrEqual(e.total as number);
      if (i > 0) expect(e.done as number, step).toBeGreaterThan(list[i - 1]!.done as number);
    }
    expect(list.at(-1)!.done, step).toBe(list.at(-1)!.total);
  }
  return [...steps.keys()];
}

describe('prune and recover', () => {
  for (const [format, extraYaml, steps] of [
    ['format 1', '', ['snapshots app@disk']],
    ['format 2', 'repository: { format: 2 }', ['snapshots app@disk', 'mark disk']],
  ] as const) {
    it(`prune --progress json counts each step up to its total; nothing when piped (${format})`, async () => {
      const d = await makeDeployment({ extraYaml, jobs: appJob('retention: { keepLast: 1 }') });
      for (let i = 0; i < 3; i++) {
        await writeFile(join(d.data, `new-${i}.bin`), randomBytes(10_000));
        expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
      }
      const pruned = await runCli(['prune', '-c', d.config, '--progress', 'json', '--json'], PASS);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(pruned.json().snapshots).toHaveLength(3); // stdout is still one document
      const events = jsonLines(pruned.stderr);
      expect(events.every((e) => e.progress === 'prune')).toBe(true);
      const seen = expectCountsUp(events, (e) => `${e.step as string} ${e.job ? `${e.job as string}@` : ''}${e.target as string}`);
      expect(seen).toEqual(steps);
      expect(events[0]).toMatchObject({ step: 'snapshots', total: 3 });
      const piped = await runCli(['prune', '-c', d.config], PASS);
      expect(piped.code).toBe(0);
      expect(piped.stderr).toBe('');
    });
  }

  it('recover --discard --progress json counts the objects removed up to their total, bytes with them', async () => {
    const d = await makeDeployment({ extraYaml: 'segmentSize: 1MiB' });
    await writeFile(join(d.data, 'big.bin'), randomBytes(5 * 1024 * 1024));
    const failsafe = await Failsafe.open(d.config, { env: PASS });
    const controller = new AbortController();
    try {
      // Cancelled once two segments are stored: the journal keeps them for a resume, or a discard.
      const onProgress = (p: { segments: number }): void => void (p.segments >= 2 && controller.abort());
      await expect(failsafe.backup([], { onProgress, signal: controller.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
    } finally {
      await failsafe.close();
    }
    const discarded = await runCli(['recover', '--discard', '--yes', '-c', d.config, '--progress', 'json', '--json'], PASS);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(discarded.json()).toEqual({ discarded: ['backup.app'] });
    const events = jsonLines(discarded.stderr);
    expect(expectCountsUp(events, (e) => e.operationId as string)).toEqual(['backup.app']);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ progress: 'recover', operationId: 'backup.app' });
    expect(last.total as number).toBeGreaterThanOrEqual(2);
    expect(last.bytes).toBe(last.totalBytes);
    expect(last.totalBytes as number).toBeGreaterThan(2 * 1024 * 1024);
  });
});
