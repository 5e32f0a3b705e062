/** Runs the built CLI until it reaches a FAILSAFE_TEST_PAUSE_AT point (core/testing/test-hooks.ts), for a test to kill or signal it there. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CRASH_POINTS, type CrashCommand, type CrashPointName } from '../../core/testing/crash-points.js';
import { PASS } from './cli.js';

export interface Paused {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null when killed by a signal) and all stderr, once the process has ended. */
  ended: Promise<{ code: number | null; stderr: string }>;
}

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');

/** Resolves once the process announced `point`; rejects if it ended before. */
export function pauseAt(point: string, args: string[], env: NodeJS.ProcessEnv = PASS): Promise<Paused> {
  return pauseScriptAt(point, BIN, args, env);
}

/** As `pauseAt`, for a node script other than the CLI (a test fixture using the built package). */
export async function pauseScriptAt(point: string, script: string, args: string[], env: NodeJS.ProcessEnv = PASS): Promise<Paused> {
  const child = spawn(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, ...env, FAILSAFE_TEST_PAUSE_AT: point } });
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

/** Runs the built CLI (or with `script`, that node script) until `point`, then kills it with SIGKILL from outside: a crash, nothing runs after it. */
export async function killAt(point: string, args: string[], env: NodeJS.ProcessEnv = PASS, script = BIN): Promise<void> {
  const { child, ended } = await pauseScriptAt(point, script, args, env);
  child.kill('SIGKILL');
  await ended;
}

/**
 * Runs the built CLI (or with `script`, that node script) to its end with FAILSAFE_TEST_TRACE set: the crash points
 * it passed, in order, each as often as reached.
 */
export async function tracePoints(
  args: string[],
  env: NodeJS.ProcessEnv = PASS,
  script?: string,
): Promise<{ code: number; stdout: string; stderr: string; points: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-trace-'));
  const file = join(dir, 'points');
  await writeFile(file, '');
  const child = spawn(process.execPath, [script ?? BIN, ...args], { env: { PATH: process.env.PATH, ...env, FAILSAFE_TEST_TRACE: file } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((resolve) => child.once('close', (status) => resolve(status ?? -1)));
  const points = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  await rm(dir, { recursive: true, force: true });
  return { code, stdout, stderr, points };
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
