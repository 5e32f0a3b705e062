/**
 * bin/failsafe.js run as a program: two lines of shell that exec node on the
 * same file with a small young generation. The process that runs is node
 * itself (same pid, signals and exit codes reach it directly), with the flag
 * unless NODE_OPTIONS already sets one.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appJob, makeDeployment, PASS } from '../helpers/cli.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');

/** Starts `failsafe daemon` through the launcher, reads its command line once it runs, stops it with SIGTERM. */
async function daemonCommandLine(env: NodeJS.ProcessEnv): Promise<{ argv: string[]; environ: string[]; code: number | null; stderr: string }> {
  const d = await makeDeployment({ jobs: appJob(`schedule: "0 3 * * *"`) });
  const child = spawn(bin, ['daemon', '-c', d.config], { env: { PATH: process.env.PATH, ...PASS, ...env } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/daemon started/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  const environ = (await readFile(`/proc/${child.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
  child.kill('SIGTERM');
  return { argv, environ, code: await exited, stderr };
}

describe.runIf(process.platform === 'linux')('the failsafe command', () => {
  it('is node itself, started with a small young generation and one malloc arena: SIGTERM reaches it and it exits 0', async () => {
    const { argv, environ, code, stderr } = await daemonCommandLine({});
    expect(argv[0]).toMatch(/node$/);
    expect(argv).toContain('--max-semi-space-size=1');
    expect(environ).toContain('MALLOC_ARENA_MAX=1');
    expect(argv).toContain(bin);
    expect(stderr).toMatch(/daemon stopped/);
    expect(code).toBe(0);
  });

  it('leaves the young generation to NODE_OPTIONS and the arenas to MALLOC_ARENA_MAX when they are set', async () => {
    const { argv, environ, code } = await daemonCommandLine({ NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '8' });
    expect(argv[0]).toMatch(/node$/);
    expect(argv).not.toContain('--max-semi-space-size=1');
    expect(environ).toContain('MALLOC_ARENA_MAX=8');
    expect(code).toBe(0);
  });

  it('passes arguments with spaces through and keeps the exit code and the one-line error', async () => {
    const child = spawn(bin, ['list', '-c', 'no such folder/failsafe.yaml'], { env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('no such folder/failsafe.yaml');
    expect(stderr).toContain('[E_CONFIG]');
  });
});
