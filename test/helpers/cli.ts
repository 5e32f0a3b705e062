/** Runs the CLI in-process with captured output, and builds throwaway deployments. */
import type { SpawnOptions } from 'node:child_process';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for commands that write binary data there (`dump`). */
  stdoutBytes: Buffer;
  // The CLI's JSON is probed by path in tests; a wrong path fails the assertion that reads it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = any>(): T;
}

/** `stdin`, when given, is what a user types at a terminal (the stream claims to be a TTY). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<CliResult> {
  const out: Buffer[] = [];
  let stderr = '';
  const sink = (append: (chunk: Buffer) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        append(Buffer.from(chunk));
        cb();
      },
    });
  const terminal = stdin === undefined ? undefined : Object.assign(Readable.from([stdin]), { isTTY: true });
  const code = await main(args, {
    ...(terminal ? { stdin: terminal } : {}),
    stdout: sink((c) => out.push(c)),
    stderr: sink((c) => (stderr += c.toString())),
    env: { PATH: process.env.PATH, ...env },
  });
  const stdoutBytes = Buffer.concat(out);
  const stdout = stdoutBytes.toString();
  return {
    code,
    stdout,
    stderr,
    stdoutBytes,
    json: () => JSON.parse(stdout),
  };
}

export interface Deployment {
  root: string;
  config: string;
  data: string;
  appConfig: string;
  target: string;
}

/** makeDeployment's default `jobs:` block: job `app` with the data folder and the config file, to `disk`; job keys may follow (indented 4). */
export const APP_JOBS = `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
      - { type: config-file, path: ./app/config.json, name: config }
    targets: [disk]`;

/** A deployment like the quick start's, in a temp dir, with a passphrase or key file. */
/** `compression` is a YAML line; without it the default (zstd) applies. */
export async function makeDeployment(
  options: { encryption?: string; compression?: string; extraYaml?: string; jobs?: string; targets?: string } = {},
): Promise<Deployment> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-e2e-'));
  const data = join(root, 'app', 'data');
  await cp(join(import.meta.dirname, '..', '..', 'examples', 'quickstart', 'data'), data, { recursive: true, verbatimSymlinks: true });
  await mkdir(join(data, 'empty-dir'), { recursive: true });
  const appConfig = join(root, 'app', 'config.json');
  await writeFile(appConfig, JSON.stringify({ name: 'app', port: 8080 }));
  const config = join(root, 'failsafe.yaml');
  // The small-device limits (64 MiB): the suite runs many CLI processes at once. Tests that give their own passphrase get the default's 256 MiB.
  const encryption = options.encryption ?? 'encryption: { passphrase: "${FAILSAFE_PASSPHRASE}", kdf: interactive }';
  const jobs = options.jobs ?? APP_JOBS;
  await writeFile(
    config,
    `version: 1
${options.targets ?? 'targets:\n  disk: { type: local, path: ./target }'}
${encryption}
${options.compression ?? ''}
${options.extraYaml ?? ''}
${jobs}
`,
  );
  return { root, config, data, appConfig, target: join(root, 'target') };
}

/** The `jobs:` block of one job `app` backing up ./app/data to `disk`, plus more job keys (indented 4). */
export function appJob(extra = ''): string {
  return `jobs:
  app:
    sources: [ { type: directory, path: ./app/data } ]
    targets: [disk]${
      extra
        ? `\n    ${extra
            .trim()
            .split('\n')
            .map((l) => l.trim())
            .join('\n    ')}`
        : ''
    }`;
}

export const PASS = { FAILSAFE_PASSPHRASE: 'correct horse battery staple' };

/**
 * Runs the built CLI in a child process as the unprivileged `nobody` user
 * (uid 65534), for cases that need file permissions to bite even when the
 * tests run as root (as CI does). Without root it runs as the current user.
 */
export async function runCliUnprivileged(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const asRoot = process.getuid?.() === 0;
  return runBuiltCli([], args, { env: { PATH: process.env.PATH, ...env }, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
}

/** Runs the built CLI (bin/failsafe.js) in a child process, with `nodeArgs` for node itself. */
export async function runBuiltCli(nodeArgs: string[], args: string[], options: SpawnOptions): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
  const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { ...options, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve(status ?? -1));
  });
  return { code, stdout, stderr };
}
