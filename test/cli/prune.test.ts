/** `failsafe prune` end to end: retention from the YAML, dry run, per-target override, bad policies. */
import { describe, expect, it } from 'vitest';
import { APP_JOBS, appJob, makeDeployment, PASS, runCli } from '../helpers/cli.js';

const twoTargets = `targets:
  disk: { type: local, path: ./target }
  nas: { type: local, path: ./nas }`;

describe('failsafe prune', () => {
  it('keeps what the policy says per target, shows why, and a dry run removes nothing', async () => {
    const d = await makeDeployment({
      targets: twoTargets,
      jobs: `jobs:
  app:
    sources: [ { type: directory, path: ./app/data } ]
    targets: [disk, nas]
    retention:
      keepLast: 1
      perTarget:
        nas: { keepLast: 2 }`,
    });
    for (let i = 0; i < 3; i++) expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);

    const dry = await runCli(['prune', '--dry-run', '-c', d.config, '--json']);
    expect(dry.code).toBe(0);
    const report = dry.json();
    expect(report.dryRun).toBe(true);
    const summary = (target: string): string[] =>
      report.snapshots.filter((s: { target: string }) => s.target === target).map((s: { action: string }) => s.action);
    expect(summary('disk')).toEqual(['keep', 'remove', 'remove']);
    expect(summary('nas')).toEqual(['keep', 'keep', 'remove']);
    expect(report.snapshots[0].reasons).toEqual(['last 1/1']);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toHaveLength(6);

    const human = await runCli(['prune', '-c', d.config]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^keep {4}\S+ {2}app @ disk {2}\(last 1\/1\)$/m);
    expect(human.stdout).toMatch(/^3 kept, 3 removed$/m);
    const left = (await runCli(['list', '-c', d.config, '--json'])).json();
    expect(left.map((s: { target: string }) => s.target).sort()).toEqual(['disk', 'nas', 'nas']);
  });

  // "Undo the settings restore" must outlive a later restore of the photos: safety snapshots group by what they hold.
  it('keeps the safety snapshots of different sources apart: each source set is its own group', async () => {
    const d = await makeDeployment({ jobs: `${APP_JOBS}\n    retention: { keepLast: 1 }` });
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    for (const source of ['config', 'data']) {
      const r = await runCli(['restore', 'latest', '--source', source, '--yes', '-c', d.config], PASS);
      expect(r.code, r.stderr).toBe(0);
    }
    const safety = (await runCli(['list', '-c', d.config, '--json'])).json().filter((s: { tags?: string[] }) => s.tags?.includes('pre-restore'));
    expect(safety.map((s: { tags: string[] }) => s.tags.filter((t) => t !== 'pre-restore'))).toEqual([['pre-restore:data'], ['pre-restore:config']]);

    const pruned = await runCli(['prune', '-c', d.config, '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json().snapshots.map((s: { action: string }) => s.action)).toEqual(['keep', 'keep', 'keep']);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toHaveLength(3);
  });

  it('a policy naming a target the job does not use, or an unreadable duration, is a config error with its line', async () => {
    const bad = await makeDeployment({
      jobs: appJob(`retention: { keepDaily: 7, perTarget: { cloud: { keepLast: 1 } } }`),
    });
    const r = await runCli(['prune', '-c', bad.config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failsafe\.yaml:\d+:\d+: jobs\.app\.retention\.perTarget\.cloud: "cloud" is not one of this job's targets/);
    const within = await makeDeployment({
      jobs: appJob(`retention: { keepWithin: 2 weeks }`),
    });
    const w = await runCli(['prune', '-c', within.config]);
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/jobs\.app\.retention\.keepWithin: expected a duration like/);
    const good = await makeDeployment();
    const g = await runCli(['prune', '-c', good.config, '--orphan-grace', 'soon']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--orphan-grace "soon"/);
  });
});
