/**
 * The retry counts of a daemon run reach the state file, and `status` shows
 * them (issue 26): a backup that succeeded only after retries, or failed after
 * them, says so where monitoring looks.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonTasks, type Schedulable } from '../../api/daemon.js';
import { Failsafe } from '../../api/index.js';
import { FileRunState } from '../../core/automation/run-state.js';
import { Scheduler } from '../../core/automation/scheduler.js';
import { FailsafeError } from '../../core/errors.js';
import { noRetries } from '../../core/repository/retry-counts.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const RETRIED = { ...noRetries(), uploads: 2, stalls: 1 };

/** A deployment whose `app` backup resolves as `outcome` says, under the daemon's tasks. */
function schedulable(config: Failsafe['config'], failures: { job: string; error: FailsafeError }[]): Schedulable {
  return {
    config,
    backup: async () => ({ snapshots: [], failures, retries: RETRIED }),
    list: async () => [],
    prune: async () => ({ errors: [] }) as never,
    drill: async () => ({ ok: true, jobs: [], retries: noRetries() }),
  };
}

async function deployment(): Promise<{ failsafe: Failsafe; stateFile: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-run-retries-'));
  await mkdir(join(root, 'data'));
  const stateFile = join(root, 'state.json');
  const failsafe = await Failsafe.fromConfig(
    {
      version: 1,
      stateFile,
      targets: { disk: { type: 'local', path: './backups' } },
      encryption: { passphrase: 'not used: nothing is backed up' },
      jobs: { app: { schedule: '0 * * * *', sources: [{ type: 'directory', path: './data' }], targets: ['disk'] } },
    },
    { baseDir: root },
  );
  return { failsafe, stateFile };
}

describe('retry counts of daemon runs', () => {
  it.each([
    ['succeeded', []],
    ['failed', [{ job: 'app', error: new FailsafeError('E_UNREACHABLE', 'connection stalled 4 times') }]],
  ] as const)('a backup that %s after retries: the state file records them, and status shows them', async (_, failures) => {
    const { failsafe, stateFile } = await deployment();
    try {
      const clock = new FakeClock('2026-11-22T00:30:00Z');
      const scheduler = new Scheduler(daemonTasks(schedulable(failsafe.config, [...failures])), { clock, state: new FileRunState(stateFile) });
      await scheduler.start();
      await clock.advance(30 * 60_000);
      await settle();
      await scheduler.stop();
      const record = (JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, { ok: boolean; retries?: unknown }>)['backup app'];
      expect(record?.ok).toBe(failures.length === 0);
      expect(record?.retries).toEqual(RETRIED);
      const status = await failsafe.status({ job: 'app' });
      expect(status.jobs[0]?.lastRun?.retries).toEqual(RETRIED);
    } finally {
      await failsafe.close();
    }
  });

  it('a state file written before the counts existed still reads', async () => {
    const { failsafe, stateFile } = await deployment();
    try {
      await writeFile(stateFile, JSON.stringify({ 'backup app': { lastRun: '2026-11-22T01:00:00.000Z', ok: true } }));
      expect((await failsafe.status({ job: 'app' })).jobs[0]?.lastRun).toEqual({ at: '2026-11-22T01:00:00.000Z', ok: true });
    } finally {
      await failsafe.close();
    }
  });
});
