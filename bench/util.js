// Small helpers shared by the benchmarks: sizes, tree sizes, timed commands, the machine.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, rmSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const UNITS = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** `--name value` from argv, or the fallback. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

/** `512MiB`, `2GiB` → bytes; exits with a usage message otherwise. */
export function sizeOption(fallback) {
  const text = option('size', fallback);
  const match = /^(\d+)(KiB|MiB|GiB)$/.exec(text ?? '');
  if (!match) {
    console.error(`--size takes a size like 512MiB or 2GiB, not "${text}"`);
    process.exit(2);
  }
  return Number(match[1]) * UNITS[match[2]];
}

/** Where benchmarks keep their data: under the system temp folder, never in the repository. */
export const benchRoot = join(tmpdir(), 'failsafe-bench');

export async function treeBytes(dir) {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, name));
    if (info.isFile()) total += info.size;
  }
  return total;
}

/**
 * What the regular files under `dir` hold, wherever they lie in it: the
 * SHA-256 of their sorted SHA-256s. Each tool lays out a restore its own way
 * (restic under the whole original path, Failsafe under the source's name),
 * so paths are left out; a byte restored wrong changes it. With `paths`,
 * each file's path relative to `dir` counts too (a caller that knows where
 * each tool put the data): a file restored under the wrong name changes it.
 */
export async function treeDigest(dir, { paths = false } = {}) {
  const hashes = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk);
    hashes.push(paths ? `${name.split(sep).join('/')}\0${hash.digest('hex')}` : hash.digest('hex'));
  }
  return createHash('sha256').update(hashes.sort().join('\n')).digest('hex');
}

/**
 * Before a timed restore: nothing of the last one left in the dirty page cache, and `seconds` for ext4 (without
 * a journal) to stop skipping the inodes deleted in the last ~30 s, which it otherwise walks past on every file it
 * creates (docs/performance.md, Reproduce).
 */
export async function settleDisk(seconds) {
  spawnSync('sync');
  if (seconds > 0) await sleep(seconds * 1000);
}

/**
 * Runs a command under GNU time (`/usr/bin/time`, Debian package `time`) for
 * its wall time and peak RSS, which covers every process it waits for.
 */
export function timed(label, command, args, { cwd, env } = {}) {
  const report = join(benchRoot, `time-${process.pid}.txt`);
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', report, command, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.error) throw new Error(`${label}: ${result.error.message} (is the Debian package "time" installed?)`);
  if (result.status !== 0) throw new Error(`${label} failed (${result.status}): ${result.stderr.slice(-2000)}`);
  const [, rssKiB = '0', user = '0', system = '0'] = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(report, 'utf8')) ?? [];
  rmSync(report, { force: true });
  return { seconds, rss: Number(rssKiB) * 1024, cpu: Number(user) + Number(system), stdout: result.stdout };
}

/** Cores, CPU model, Node and the load averages, to print beside every result. */
export function machine() {
  const [one, five, fifteen] = loadavg();
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load: [one, five, fifteen].map((n) => Number(n.toFixed(2))),
  };
}

export function round(value, digits = 1) {
  return Number(value.toFixed(digits));
}

/** The flags and environment the `failsafe` command starts node with (bin/failsafe.js): bench/run-cli.js runs with the same. */
export const NODE_FLAGS = ['--max-semi-space-size=1'];
export const NODE_ENV = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1' };

/** Runs `failsafe <args> -c config --json` (bench/run-cli.js) in a child process: seconds, peak RSS in bytes, parsed output. */
export function runCli(label, cliArgs, config) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [...NODE_FLAGS, join(import.meta.dirname, 'run-cli.js'), ...cliArgs, '-c', config, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: NODE_ENV,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${label} failed (${result.status}): ${result.stderr}`);
  const rss = Number(/BENCH maxRssKiB=(\d+)/.exec(result.stderr)?.[1] ?? 0) * 1024;
  return { label, seconds, rss, output: JSON.parse(result.stdout) };
}

/** Numbers rounded to one decimal, for console.table. */
export function rounded(row) {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
}

/**
 * Writes `<work>/bench.key` and `<work>/failsafe.yaml` (a local target `./target`, key-file encryption, then the
 * top-level keys in `settingsYaml`, such as `repository: { format: 2 }`) with these jobs; returns the YAML's path.
 */
export async function benchConfig(work, jobsYaml, settingsYaml = '') {
  await writeFile(join(work, 'bench.key'), Buffer.alloc(32, 7).toString('base64'));
  const config = join(work, 'failsafe.yaml');
  await writeFile(
    config,
    `version: 1\ntargets: { disk: { type: local, path: ./target } }\nencryption: { keyFile: ./bench.key }\n${settingsYaml}jobs:\n${jobsYaml}`,
  );
  return config;
}
