/** Runs the built CLI until it reaches a FAILSAFE_TEST_PAUSE_AT point (core/testing/test-hooks.ts), for a test to kill or signal it there. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { PASS } from './cli.js';

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
