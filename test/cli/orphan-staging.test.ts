/**
 * Staging folders that no restore journal names (left by a version before the
 * journal, or a restore that died before writing one) are found by every
 * command as the journaled ones are: `status` and `recover --list` name them
 * and say what will happen, and the next backup, prune, restore or recover
 * removes them, by the rule of a journal in state `staging` (docs/restore.md).
 * Folders that only look alike (another source's name, a file, another
 * suffix) are left alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli, type Deployment } from '../helpers/cli.js';

const ORPHANS = ['.failsafe-staging-data-0123abcd', '.failsafe-staging-config-89abcdef'];
const LOOKALIKES = ['.failsafe-staging-other-0123abcd', '.failsafe-staging-data-deadbeef', '.failsafe-staging-data-notahex0'];

async function deployment(): Promise<Deployment> {
  // A key file rather than a passphrase: no key derivation in each run.
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
  await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
  return d;
}

/** What a dead restore's staging looks like beside app/data and app/config.json, and things that only look like it. */
async function plant(d: Deployment): Promise<void> {
  const app = join(d.root, 'app');
  for (const name of ORPHANS) {
    await mkdir(join(app, name, 'partial'), { recursive: true });
    await writeFile(join(app, name, 'partial', 'readings.csv'), 'half a restore');
  }
  await mkdir(join(app, LOOKALIKES[0]!));
  await writeFile(join(app, LOOKALIKES[1]!), 'a file, not a folder');
  await mkdir(join(app, LOOKALIKES[2]!));
}

const staging = async (d: Deployment): Promise<string[]> => (await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe-staging-')).sort();

describe('staging folders without a journal', () => {
  it('are named by status and recover --list, which change nothing', async () => {
    const d = await deployment();
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    await plant(d);
    const status = await runCli(['status', '-c', d.config]);
    expect(status.stdout).toContain(`a staging folder no restore journal names, ${join(d.root, 'app', ORPHANS[0]!)}`);
    expect(status.stdout).toMatch(/health: warning\n$/);
    const listed = await runCli(['recover', '--list', '-c', d.config]);
    expect(listed.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [...ORPHANS]
        .sort()
        .map((name) => expect.stringMatching(new RegExp(`^${name}: a staging folder no restore journal names, .* the next command removes it$`))),
    );
    const json = await runCli(['recover', '--list', '--json', '-c', d.config]);
    expect(json.json()).toEqual(ORPHANS.map(() => expect.objectContaining({ kind: 'restore', withoutJournal: true, action: 'remove-staging' })));
    expect(await staging(d)).toEqual([...ORPHANS, ...LOOKALIKES].sort());
  });

  it.each([
    ['backup', ['backup']],
    ['prune', ['prune']],
    ['restore', ['restore', 'latest', '--yes', '--no-safety-snapshot']],
    ['recover', ['recover', '--yes']],
  ])('are removed by the next %s, with a warning, and nothing else is', async (_name, args) => {
    const d = await deployment();
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    await plant(d);
    const run = await runCli([...args, '-c', d.config]);
    expect(run.code).toBe(0);
    for (const name of ORPHANS) expect(run.stderr).toContain(`removed the staging folder ${join(d.root, 'app', name)}, which no restore journal named`);
    expect(await staging(d)).toEqual([...LOOKALIKES].sort());
    expect((await runCli(['recover', '--list', '-c', d.config])).stdout).toBe('nothing to recover\n');
  });
});
