// The tools bench/versions.js runs through the generations: how each one backs up a generation, restores one by
// its id, and forgets some generations and frees their space. Each command runs under GNU time (bench/util.js).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { borgEnv, cli, resticEnv } from './peers.js';
import { benchConfig, timed } from './util.js';

/** Wall seconds and CPU add up over the commands of one step; peak RSS is the largest of them. */
function together(runs) {
  return {
    seconds: runs.reduce((sum, r) => sum + r.seconds, 0),
    cpu: runs.reduce((sum, r) => sum + r.cpu, 0),
    rss: Math.max(...runs.map((r) => r.rss)),
  };
}

/**
 * Failsafe through its command, as users run it (bin/failsafe.js, whose launcher sets node's flags), on a
 * deduplicating repository (`repository: { format: 2 }`, docs/format-v2.md) with a key file and zstd level 1.
 * The first backup and the unchanged re-run carry tags of their own (`generation-0`, `rerun`): retention keeps
 * each set of tags apart (docs/retention.md) and never removes the last snapshot of one, so `keepLast` (5 of 10
 * generations) keeps those two and generations 6–10, and forgets 1–5 as the others do.
 */
const failsafe = {
  name: 'failsafe',
  repo: (dir) => join(dir, 'target'),
  async setup({ dir, data, keepLast }) {
    await mkdir(join(dir, 'target'), { recursive: true });
    const job = `  bench:\n    sources: [ { type: directory, path: ${JSON.stringify(data)}, name: data } ]\n    targets: [disk]\n    retention: { keepLast: ${keepLast} }\n`;
    await benchConfig(dir, job, 'compression: { algorithm: zstd, level: 1 }\nrepository: { format: 2 }\n');
  },
  backup({ dir, tag }) {
    const run = timed('failsafe backup', cli, ['backup', ...(tag ? ['--tag', tag] : []), '-c', join(dir, 'failsafe.yaml'), '--json']);
    return { ...run, id: JSON.parse(run.stdout).snapshots[0].id };
  },
  restore: ({ dir, id, to }) => timed('failsafe restore', cli, ['restore', id, '--to', to, '-c', join(dir, 'failsafe.yaml'), '--json']),
  restoredData: ({ to }) => join(to, 'data'),
  prune({ dir, forget }) {
    const run = timed('failsafe prune', cli, ['prune', '-c', join(dir, 'failsafe.yaml'), '--json']);
    const report = JSON.parse(run.stdout);
    const removed = report.snapshots.filter((s) => s.action === 'remove').map((s) => s.id);
    if (removed.sort().join() !== [...forget].sort().join()) throw new Error(`failsafe prune removed ${removed.join(', ')}, not ${forget.join(', ')}`);
    // What the sweep did (packs removed, repacked, kept, too young) goes into the JSON, to explain what it freed.
    return { ...run, packs: report.packs.disk };
  },
};

/** restic 0.14 with its defaults: a version 2 repository, compression `auto` (zstd at its fastest level). */
const restic = {
  name: 'restic',
  command: 'restic',
  apt: 'restic',
  repo: (dir) => join(dir, 'repo'),
  setup: ({ dir }) => timed('restic init', 'restic', ['init'], { env: resticEnv(dir) }),
  backup({ dir, root, dataName }) {
    const run = timed('restic backup', 'restic', ['backup', '--json', dataName], { cwd: root, env: resticEnv(dir) });
    const summary = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .find((m) => m.message_type === 'summary');
    return { ...run, id: summary.snapshot_id };
  },
  restore: ({ dir, id, to }) => timed('restic restore', 'restic', ['restore', id, '--quiet', '--target', to], { env: resticEnv(dir) }),
  // restic 0.14 restores the folder it backed up under its own name, whatever path it was given.
  restoredData: ({ to, dataName }) => join(to, dataName),
  prune: ({ dir, forget }) =>
    together([
      timed('restic forget', 'restic', ['forget', '--quiet', ...forget], { env: resticEnv(dir) }),
      timed('restic prune', 'restic', ['prune', '--quiet'], { env: resticEnv(dir) }),
    ]),
};

/** Borg 1.2 with `repokey` encryption and zstd level 1; `borg delete` only marks, `borg compact` frees the space. */
let archives = 0;
const borg = {
  name: 'borg',
  command: 'borg',
  apt: 'borgbackup',
  repo: (dir) => join(dir, 'repo'),
  setup: ({ dir }) => timed('borg init', 'borg', ['init', '--encryption=repokey', join(dir, 'repo')], { env: borgEnv(dir) }),
  backup({ dir, root, dataName }) {
    const id = `a${archives++}`;
    const run = timed('borg create', 'borg', ['create', '--compression', 'zstd,1', `${join(dir, 'repo')}::${id}`, dataName], { cwd: root, env: borgEnv(dir) });
    return { ...run, id };
  },
  async restore({ dir, id, to }) {
    await mkdir(to, { recursive: true });
    return timed('borg extract', 'borg', ['extract', `${join(dir, 'repo')}::${id}`], { cwd: to, env: borgEnv(dir) });
  },
  restoredData: ({ to, dataName }) => join(to, dataName),
  prune: ({ dir, forget }) =>
    together([
      timed('borg delete', 'borg', ['delete', join(dir, 'repo'), ...forget], { env: borgEnv(dir) }),
      timed('borg compact', 'borg', ['compact', join(dir, 'repo')], { env: borgEnv(dir) }),
    ]),
};

export const versionTools = [failsafe, restic, borg];
