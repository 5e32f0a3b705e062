// The tools compared by bench/compare.js: how to prepare, back up and restore with each.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timed } from './util.js';

export const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'failsafe.js');
const PASSWORD = 'bench-password';

export function resticEnv(dir) {
  return { RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: join(dir, 'repo'), RESTIC_CACHE_DIR: join(dir, 'cache') };
}

export function borgEnv(dir) {
  return { BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: join(dir, 'home'), BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' };
}

function borg(name, label, compression) {
  let archive = 0;
  return {
    name,
    label,
    apt: 'borgbackup',
    command: 'borg',
    setup: ({ dir }) => timed(`${name} init`, 'borg', ['init', '--encryption=repokey-blake2', join(dir, 'repo')], { env: borgEnv(dir) }),
    backup: ({ dir, root, dataName }) =>
      timed(`${name} backup`, 'borg', ['create', '--compression', compression, `${join(dir, 'repo')}::a${archive++}`, dataName], {
        cwd: root,
        env: borgEnv(dir),
      }),
    restore: async ({ dir, restored }) => {
      await mkdir(restored, { recursive: true });
      return timed(`${name} restore`, 'borg', ['extract', `${join(dir, 'repo')}::a0`], { cwd: restored, env: borgEnv(dir) });
    },
  };
}

export const peers = [
  {
    name: 'failsafe',
    label: 'failsafe',
    setup: async ({ dir, data }) => {
      await mkdir(join(dir, 'repo'), { recursive: true });
      await writeFile(join(dir, 'bench.key'), Buffer.alloc(32, 7).toString('base64'));
      // Default compression and segment size: what a user gets without tuning.
      await writeFile(
        join(dir, 'failsafe.yaml'),
        `version: 1
targets: { disk: { type: local, path: ./repo } }
encryption: { keyFile: ./bench.key }
jobs:
  bench:
    sources: [ { type: directory, path: ${data}, name: data } ]
    targets: [disk]
`,
      );
    },
    // The command as users run it (its launcher sets node's flags), not `node bin/failsafe.js`.
    backup: ({ dir }) => timed('failsafe backup', cli, ['backup', '-c', join(dir, 'failsafe.yaml'), '--json']),
    restore: ({ dir, restored }) => timed('failsafe restore', cli, ['restore', 'latest', '--to', restored, '-c', join(dir, 'failsafe.yaml'), '--json']),
  },
  {
    name: 'restic',
    label: 'restic',
    apt: 'restic',
    command: 'restic',
    setup: ({ dir }) => timed('restic init', 'restic', ['init'], { env: resticEnv(dir) }),
    backup: ({ dir, root, dataName }) => timed('restic backup', 'restic', ['backup', '--quiet', dataName], { cwd: root, env: resticEnv(dir) }),
    restore: ({ dir, restored }) => timed('restic restore', 'restic', ['restore', 'latest', '--quiet', '--target', restored], { env: resticEnv(dir) }),
  },
  borg('borg-zlib', 'borg zlib,6', 'zlib,6'),
  borg('borg-lz4', 'borg lz4', 'lz4'),
  {
    name: 'tar',
    label: 'tar czf',
    setup: async ({ dir }) => {
      await mkdir(join(dir, 'repo'), { recursive: true });
    },
    backup: ({ dir, root, dataName }) => timed('tar czf', 'tar', ['czf', join(dir, 'repo', `${Date.now()}.tar.gz`), dataName], { cwd: root }),
    restore: async ({ dir, restored }) => {
      await mkdir(restored, { recursive: true });
      const [first] = readdirSync(join(dir, 'repo')).sort();
      return timed('tar xzf', 'tar', ['xzf', join(dir, 'repo', first)], { cwd: restored });
    },
  },
];

export function installed(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Installs the missing peers (and GNU time) with apt-get, as the benchmark's machine is Debian. */
export function ensurePeers(chosen) {
  const missing = [...new Set(chosen.filter((p) => p.command && !installed(p.command)).map((p) => p.apt))];
  if (!existsSync('/usr/bin/time')) missing.push('time');
  if (missing.length === 0) return;
  console.error(`installing ${missing.join(' ')} with apt-get …`);
  const result = spawnSync('sh', ['-c', `apt-get install -y ${missing.join(' ')} || (apt-get update && apt-get install -y ${missing.join(' ')})`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`could not install ${missing.join(' ')}; install them and run again`);
}
