/** Runs the built CLI until it reaches a FAILSAFE_TEST_PAUSE_AT point (core/testing/test-hooks.ts), for a test to kill or signal it there. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CRASH_POINTS, type CrashCommand, type CrashPointName } from '../../core/testing/crash-points.js';
import { PASS, runBuiltCli } from './cli.js';

export interface Paused {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null when killed by a signal) and all stderr, once the process has ended. */
  ended: Promise<{ code: number | null; stderr: string }>;
}

/** Resolves once the process announced `point`; rejects if it ended before. */
export async function pauseAt(point: string, args: string[], env: NodeJS.ProcessEnv = PASS): Promise<Paused> {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env, FAILSAFE_TEST_PAUSE_AT: point } });
  let stderr = '';
  const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stderr })));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`paused at ${point}`)) resolve();
    });
    void ended.then(({ code }) => reject(new Error(`exited (${code}) before ${point}: ${stderr}`)));
  });
  return { child, ended };
}

/** Runs the built CLI until `point`, then kills it with SIGKILL from outside: a crash, nothing runs after it. */
export async function killAt(point: string, args: string[], env: NodeJS.ProcessEnv = PASS): Promise<void> {
  const { child, ended } = await pauseAt(point, args, env);
  child.kill('SIGKILL');
  await ended;
}

/** Runs the built CLI to its end with FAILSAFE_TEST_TRACE set: the crash points it passed, in order, each as often as reached. */
export async function tracePoints(args: string[], env: NodeJS.ProcessEnv = PASS): Promise<{ code: number; stderr: string; points: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-trace-'));
  const file = join(dir, 'points');
  await writeFile(file, '');
  const { code, stderr } = await runBuiltCli([], args, { env: { PATH: process.env.PATH, ...env, FAILSAFE_TEST_TRACE: file } });
  const points = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  await rm(dir, { recursive: true, force: true });
  return { code, stderr, points };
}

/** How often the traced run reached `point`: the last `<point>:<n>` a sweep can arm. */
export function timesReached(points: string[], point: CrashPointName): number {
  return points.filter((p) => p === point).length;
}

/** Every point listed for `command` is in `points` (a traced run): a point renamed in the code cannot silently drop out of its sweep. */
export function expectEveryPoint(command: CrashCommand, points: Iterable<string>): void {
  const reached = new Set(points);
  expect(CRASH_POINTS[command].filter((p) => !reached.has(p))).toEqual([]);
}
