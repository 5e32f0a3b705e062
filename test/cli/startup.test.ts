/**
 * What a CLI run loads. Every command's libraries used to load at start
 * (about 80 MB of RSS for `--help`); they are now imported when a command
 * needs them. These tests run the built CLI with a module tracer and fail
 * when a static import brings a heavy library back into a run that does not
 * use it, or when a library that fails to load is not a one-line error.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runBuiltCli } from '../helpers/cli.js';

// Module hooks run on their own thread in Node.js 20: each resolved URL is appended to a file, and at exit the
// CommonJS cache too (a package required from CommonJS never passes the ESM hooks).
const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  if (specifier === process.env.FAILSAFE_TEST_BREAK_MODULE) throw new Error(\`Cannot find module '\${specifier}'\`);
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;
const REGISTER = `
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
const out = process.env.FAILSAFE_TEST_TRACE;
register(new URL('./hooks.mjs', import.meta.url), { data: { out } });
process.on('exit', () => appendFileSync(out, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n'));
`;

let tracer: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-startup-'));
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  tracer = join(dir, 'register.mjs');
});

interface Traced {
  code: number;
  stdout: string;
  stderr: string;
  /** npm packages the run loaded, by name. */
  packages: Set<string>;
  /** Failsafe's own modules it loaded, as paths under dist/ (`api/failsafe.js`). */
  own: Set<string>;
}

async function traced(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Traced> {
  const out = join(await mkdtemp(join(tmpdir(), 'failsafe-trace-')), 'modules.txt');
  await writeFile(out, '');
  const { code, stdout, stderr } = await runBuiltCli(['--import', pathToFileURL(tracer).href], args, {
    env: { PATH: process.env.PATH, FAILSAFE_TEST_TRACE: out, ...env },
  });
  const packages = new Set<string>();
  const own = new Set<string>();
  for (const line of (await readFile(out, 'utf8')).split('\n')) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line);
    if (pkg) packages.add(pkg[1]!);
    else if (/\/dist\/(.+\.js)$/.test(line)) own.add(/\/dist\/(.+\.js)$/.exec(line)![1]!);
  }
  return { code, stdout, stderr, packages, own };
}

/** Only `status --prometheus`, a progress bar on a terminal, a sqlite source, schedules and notifications need these. */
const ON_DEMAND = ['prom-client', 'cli-progress', 'better-sqlite3', 'croner', 'p-retry'];

describe('what a CLI run loads', () => {
  it('--help loads commander and none of the libraries the commands use', async () => {
    const r = await traced(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: failsafe/m);
    expect(r.packages).toContain('commander');
    expect(r.own).toContain('cli/main.js');
    for (const module of ['api/failsafe.js', 'core/config/load.js', 'core/automation/scheduler.js', 'core/status/metrics.js', 'core/crypto/keys.js']) {
      expect(r.own, module).not.toContain(module);
    }
    for (const name of [
      ...ON_DEMAND,
      'zod',
      'yaml',
      'tsyringe',
      'libsodium-wrappers-sumo',
      'tar-stream',
      'picomatch',
      '@aws-sdk/client-s3',
      'ssh2-sftp-client',
    ]) {
      expect(r.packages, name).not.toContain(name);
    }
  });

  it('a backup and a list load the configuration libraries but not the on-demand ones', async () => {
    const d = await makeDeployment();
    const backup = await traced(['backup', '-c', d.config, '--json'], PASS);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.packages).toContain('zod');
    // The tar stream is written and read by the core itself.
    for (const name of [...ON_DEMAND, 'tar-stream']) expect(backup.packages, name).not.toContain(name);

    const list = await traced(['list', '-c', d.config, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
    expect(list.packages).toContain('yaml');
    for (const name of [...ON_DEMAND, 'tar-stream']) expect(list.packages, name).not.toContain(name);
  });

  it('a library that cannot be loaded when first needed is one E_DEPENDENCY line, exit 1', async () => {
    const d = await makeDeployment({
      jobs: `jobs:
  app:
    sources: [ { type: sqlite, path: ./app/data/missing-driver.db } ]
    targets: [disk]`,
    });
    await writeFile(join(d.data, 'missing-driver.db'), '');
    const r = await traced(['backup', '-c', d.config], { ...PASS, FAILSAFE_TEST_BREAK_MODULE: 'better-sqlite3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: job app: cannot load better-sqlite3 \(needed for sqlite sources\): Cannot find module 'better-sqlite3'; reinstall .*\[E_DEPENDENCY\]\n$/,
    );
    expect(r.packages).not.toContain('better-sqlite3');
  });
});
