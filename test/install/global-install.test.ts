/**
 * Failsafe installed as a deployment installs it: `npm pack`, then
 * `npm install -g` of the tarball into a fresh prefix, then the `failsafe`
 * on that prefix's PATH run from another folder — nothing of this checkout
 * (its node_modules, its dist/) is reachable from there.
 *
 * The install is tried offline first: the packages are in the npm cache
 * after `npm ci`, though not always the registry's metadata a global install
 * also reads; then with --prefer-offline, which asks the registry only for
 * what the cache lacks. The test is skipped, with the reason, only when both
 * fail for want of the network.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');
const INSTALL_MS = 30 * 60_000;
/** npm's codes for a registry it cannot reach, and for a package neither the cache nor the registry gave. */
const OFFLINE = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH/;
/** The dependencies whose install scripts build their native parts (as the README's install command allows them). */
const ALLOW_SCRIPTS = 'better-sqlite3,zstd-napi,ssh2,cpu-features';

/** npm's own environment without what `npm test` exported for this checkout (its prefix, its scripts' settings). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) || /^npm_config_cache$/i.test(key)) env[key] = value;
  return { ...env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
}

async function npm(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 << 20 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

let work: string;
let prefix: string;
let skipReason: string | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'failsafe-install-'));
  prefix = join(work, 'prefix');
  // dist/ is fresh (the suite's global setup built it), so the pack skips `prepare`.
  const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', work], repo);
  if (!packed.ok) throw new Error(`npm pack failed:\n${packed.output}`);
  const tarball = join(
    work,
    (await readdir(work)).find((f) => f.endsWith('.tgz'))!,
  );
  const install = (mode: string): Promise<{ ok: boolean; output: string }> =>
    npm(['install', '-g', '--prefix', prefix, mode, `--allow-scripts=${ALLOW_SCRIPTS}`, tarball], work);
  let result = await install('--offline');
  if (!result.ok && /ENOTCACHED/.test(result.output)) result = await install('--prefer-offline');
  if (!result.ok && OFFLINE.test(result.output))
    skipReason = `the registry is unreachable and the npm cache lacks a package: ${result.output.split('\n').find((l) => OFFLINE.test(l))}`;
  else if (!result.ok) throw new Error(`npm install -g failed:\n${result.output}`);
}, INSTALL_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs the installed `failsafe` by name, found on PATH as a deployment finds it, in `cwd`. */
async function failsafe(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH}`, HOME: work, FAILSAFE_PASSPHRASE: 'install test passphrase' };
  try {
    const { stdout, stderr } = await run('failsafe', args, { cwd, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('npm install -g of the packed tarball', () => {
  it('puts a working `failsafe` on the prefix PATH: --version, and a backup and restore from another folder', async (context) => {
    if (skipReason) context.skip(skipReason);
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
    const shown = await failsafe(['--version'], work);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim()).toBe(version);

    const site = join(work, 'site');
    await mkdir(join(site, 'data', 'photos'), { recursive: true });
    await writeFile(join(site, 'data', 'readings.csv'), 'time,moisture\n2026-12-03T10:00Z,41\n');
    await writeFile(join(site, 'data', 'photos', 'leaf.jpg'), Buffer.alloc(70_000, 7));
    await writeFile(
      join(site, 'failsafe.yaml'),
      `version: 1
targets:
  disk: { type: local, path: ./backups }
encryption: { passphrase: "\${FAILSAFE_PASSPHRASE}", kdf: interactive }
jobs:
  planter:
    sources: [ { type: directory, path: ./data } ]
    targets: [disk]
`,
    );
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere);
    const config = join(site, 'failsafe.yaml');
    const backup = await failsafe(['backup', '-c', config, '--json'], elsewhere);
    expect(backup.code, backup.stderr).toBe(0);
    const restore = await failsafe(['restore', 'latest', '--to', join(work, 'restored'), '-c', config], elsewhere);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await readFile(join(work, 'restored', 'data', 'readings.csv'), 'utf8')).toContain('moisture');
    expect((await readFile(join(work, 'restored', 'data', 'photos', 'leaf.jpg'))).equals(Buffer.alloc(70_000, 7))).toBe(true);
  });
});
