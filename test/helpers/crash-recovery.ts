/**
 * The crash-recovery suite, for any target type: a backup process killed
 * with SIGKILL at several points, then run again. Each target's test file
 * calls `describeCrashRecovery` with a way to configure and list its target.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

export interface CrashTarget {
  /** The target's YAML mapping, e.g. `{ type: local, path: ./target }`. */
  yaml: string;
  /** Every object key in the target (no temp or partial objects). */
  keys(): Promise<string[]>;
}

/** A local target in `<root>/target`, its keys found by walking the folder (temp files left by a kill are not objects). */
export function localCrashTarget(root: string): CrashTarget {
  const dir = join(root, 'target');
  const walk = async (base: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(join(dir, base), { withFileTypes: true }).catch(() => [])) {
      const rel = base ? `${base}/${entry.name}` : entry.name;
      if (entry.isDirectory()) out.push(...(await walk(rel)));
      else if (!entry.name.startsWith('.failsafe-tmp-')) out.push(rel);
    }
    return out.sort();
  };
  return { yaml: '{ type: local, path: ./target }', keys: () => walk('') };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
const PARALLELISM = 2;
/** Segments alive at once in the pipeline (core/backup/run-backup.ts): what a crash may force to be sent again. */
const WINDOW = PARALLELISM + 3;

export function runCliProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function files(root: string, base = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(root, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await files(root, rel));
    else out[rel] = (await readFile(join(root, rel))).toString('base64');
  }
  return out;
}

/** A deployment whose data spans about eight 1 MiB segments of incompressible bytes. */
export async function crashDeployment(
  makeTarget: (root: string) => Promise<CrashTarget>,
): Promise<{ root: string; config: string; data: string; target: CrashTarget }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-crash-'));
  const data = join(root, 'data');
  await mkdir(join(data, 'photos'), { recursive: true });
  for (let i = 0; i < 24; i++) await writeFile(join(data, 'photos', `p${i}.jpg`), randomBytes(300_000 + i * 1000));
  await writeFile(join(data, 'notes.txt'), 'readings\n'.repeat(1000));
  await writeFile(join(root, 'failsafe.key'), randomBytes(32).toString('base64'));
  const target = await makeTarget(root);
  const config = join(root, 'failsafe.yaml');
  await writeFile(
    config,
    `version: 1
targets:
  store: ${target.yaml}
encryption: { keyFile: ./failsafe.key }
compression: { algorithm: gzip, level: 1 }
segmentSize: 1MiB
parallelism: ${PARALLELISM}
jobs:
  app:
    sources: [ { type: directory, path: ./data, name: data } ]
    targets: [store]
`,
  );
  return { root, config, data, target };
}

export function describeCrashRecovery(name: string, makeTarget: (root: string) => Promise<CrashTarget>): void {
  describe(`crash recovery on ${name}`, () => {
    const points = [
      { point: 'entries:3', when: 'while collecting' },
      // The sixth: a segment is made only with a window permit, and a permit comes back only once a checkpoint holding a
      // stored segment is durable, so by the sixth (window of five) at least one is recorded. At the third, the first
      // checkpoint may still be on its way to disk, and the rerun rightly reuses nothing.
      { point: 'stored:6', when: 'mid-upload' },
      { point: 'manifest:1', when: 'between the data and the manifest' },
      { point: 'manifest-written:1', when: 'after the manifest, before the checkpoint says so' },
    ];
    for (const { point, when } of points) {
      it(`a backup killed ${when} (${point}) resumes, restores bit-identical and re-sends at most the segments in flight`, { timeout: 60_000 }, async () => {
        const d = await crashDeployment(makeTarget);
        const killed = await runCliProcess(['backup', '-c', d.config, '--json'], { FAILSAFE_TEST_CRASH: point });
        expect(killed.signal).toBe('SIGKILL');

        // Whatever the kill point, a snapshot that lists also verifies.
        const listed = JSON.parse((await runCliProcess(['list', '-c', d.config, '--json'])).stdout) as { id: string }[];
        expect(listed.length).toBe(point === 'manifest-written:1' ? 1 : 0);
        if (listed.length > 0) expect((await runCliProcess(['verify', '--all', '--read-data', '-c', d.config])).code).toBe(0);
        const segmentsAtKill = (await d.target.keys()).filter((k) => k.startsWith('data/'));

        const rerun = await runCliProcess(['backup', '-c', d.config, '--json']);
        expect(rerun.code, rerun.stderr).toBe(0);
        // The killed run's lock was taken over, not fought by hand.
        expect(rerun.stderr).toMatch(/took over a stale lock of job app in store: .*no longer running/);
        const [snapshot] = JSON.parse(rerun.stdout).snapshots as { id: string; resumed?: { reusedSegments: number; uploadedSegments: number } }[];
        const segments = (await d.target.keys()).filter((k) => k.startsWith(`data/app/${snapshot!.id}/`)).length;
        expect(segments).toBeGreaterThanOrEqual(7);
        if (point === 'manifest-written:1') {
          // That snapshot was complete: the rerun is a new one, and the first still verifies.
          expect(snapshot!.id).not.toBe(listed[0]!.id);
        } else if (segmentsAtKill.length > 0) {
          const { reusedSegments, uploadedSegments } = snapshot!.resumed!;
          expect(reusedSegments + uploadedSegments).toBe(segments);
          // Sent twice: the segments stored before the kill that the rerun could not reuse.
          expect(segmentsAtKill.length - reusedSegments).toBeLessThanOrEqual(WINDOW);
          expect(reusedSegments).toBeGreaterThan(0);
          // Killed with every segment stored and recorded: nothing at all is sent again.
          if (point === 'manifest:1') expect(uploadedSegments).toBe(0);
        }

        const out = join(d.root, 'restored');
        const restored = await runCliProcess(['restore', snapshot!.id, '-c', d.config, '--to', out]);
        expect(restored.code, restored.stderr).toBe(0);
        expect(await files(join(out, 'data'))).toEqual(await files(d.data));
        const verified = await runCliProcess(['verify', '--all', '--read-data', '-c', d.config, '--json']);
        expect(verified.code, verified.stdout).toBe(0);
        // Nothing unfinished is left, and no object lies outside a snapshot.
        expect(JSON.parse((await runCliProcess(['recover', '--list', '-c', d.config, '--json'])).stdout)).toEqual([]);
        const ids = (JSON.parse((await runCliProcess(['list', '-c', d.config, '--json'])).stdout) as { id: string }[]).map((s) => s.id);
        for (const key of (await d.target.keys()).filter((k) => k.startsWith('data/'))) expect(ids).toContain(key.split('/')[2]);
      });
    }

    it('two backups of one job started at once: one fails with E_LOCKED or waits, nothing is corrupted', { timeout: 60_000 }, async () => {
      const d = await crashDeployment(makeTarget);
      const [a, b] = await Promise.all([runCliProcess(['backup', '-c', d.config, '--json']), runCliProcess(['backup', '-c', d.config, '--json'])]);
      const codes = [a!.code, b!.code].sort();
      expect(codes[0]).toBe(0);
      for (const run of [a!, b!]) if (run.code !== 0) expect(run.stderr).toMatch(/job app is locked in store by .* \[E_LOCKED\]/);
      const verified = await runCliProcess(['verify', '--all', '--read-data', '-c', d.config, '--json']);
      expect(verified.code, verified.stdout).toBe(0);
      expect(JSON.parse(verified.stdout).checked).toBeGreaterThan(7);
    });
  });
}
