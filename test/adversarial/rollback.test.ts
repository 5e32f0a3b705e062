/**
 * Rollback detection: someone who can write a target can delete its newest
 * snapshots, or put an older genuine one back, and every signature still
 * verifies. This host remembers the newest trusted snapshot it saw per target
 * and job (.failsafe/seen-snapshots/<config>.json), and `status`, `list`,
 * `restore latest`, `drill` and `backup` report a target that went backwards.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { backup, restore, signingKey } from './signing.js';
import { forgeSnapshot, JOB } from './forge.js';

const V2 = 'repository: { format: 2 }';

/** Removes snapshot `id` as an attacker would: its manifest (format 1) or snapshot object (format 2). */
async function deleteSnapshot(target: string, id: string, format: 1 | 2): Promise<void> {
  await rm(join(target, format === 2 ? 'snapshots' : 'manifests', JOB, id));
}

async function status(config: string) {
  const r = await runCli(['status', '--json', '-c', config], PASS);
  return { ...r, report: r.json() as { health: string; jobs: { problems: string[] }[] } };
}

describe('rollback detection', () => {
  for (const format of [1, 2] as const) {
    it(`format ${format}: the newest snapshot deleted, an older one left: status warns, list marks it, restore latest and drill refuse, backup warns`, async () => {
      // A deduplicating repository is always encrypted.
      const d = await makeDeployment(format === 2 ? { extraYaml: V2 } : { encryption: 'encryption: none' });
      const older = await backup(d.config);
      const newest = await backup(d.config);
      const before = await status(d.config);
      expect(before.report.health, JSON.stringify(before.report)).toBe('ok');
      await deleteSnapshot(d.target, newest, format);

      const s = await status(d.config);
      expect(s.report.health).toBe('warning');
      expect(s.report.jobs[0]!.problems.join('\n')).toContain(`saw ${newest}`);
      expect(s.report.jobs[0]!.problems.join('\n')).toContain('went backwards');

      const list = await runCli(['list', '--json', '-c', d.config], PASS);
      expect(list.code, list.stderr).toBe(0);
      expect(list.json()).toEqual([expect.objectContaining({ id: older, wentBackwards: expect.objectContaining({ seenId: newest }) })]);
      expect(list.stderr).toContain('went backwards');
      const text = await runCli(['list', '-c', d.config], PASS);
      expect(text.stdout).toContain(`went backwards: ${newest} seen here before`);

      const refused = await restore(d, 'latest');
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('E_ROLLBACK');
      expect(refused.restored).toEqual([]);
      const scratch = await mkdtemp(join(d.root, 'scratch-'));
      const drill = await runCli(['drill', '--scratch', scratch, '--json', '-c', d.config], PASS);
      expect(drill.code).toBe(3);
      expect(drill.stdout).toContain('E_ROLLBACK');
      // By its id, or with the flag, the older snapshot still restores.
      expect((await restore(d, older)).code).toBe(0);
      const allowed = await restore(d, 'latest', ['--allow-rollback']);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stderr).toContain('went backwards');

      // A backup says so, then its new snapshot is the newest seen: the warning ends.
      const again = await runCli(['backup', '-c', d.config], PASS);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('went backwards');
      expect((await status(d.config)).report.health).toBe('ok');
    });
  }

  it('every snapshot deleted: status warns that the target holds none any more', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    const id = await backup(d.config);
    expect((await status(d.config)).report.health).toBe('ok');
    await rm(join(d.target, 'manifests'), { recursive: true });
    const s = await status(d.config);
    expect(s.report.health).toBe('critical');
    expect(s.report.jobs[0]!.problems.join('\n')).toContain(`holds no trusted snapshot, but this host saw ${id}`);
  });

  it('an older snapshot deleted while a newer one exists (retention) is not a rollback', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    const older = await backup(d.config);
    expect((await status(d.config)).report.health).toBe('ok');
    await backup(d.config);
    await deleteSnapshot(d.target, older, 1);
    const s = await status(d.config);
    expect(s.report.health, s.report.jobs[0]!.problems.join('\n')).toBe('ok');
    expect((await restore(d, 'latest')).code).toBe(0);
  });

  it('signed: the newest replaced by a newer unsigned forgery is still a rollback (only trusted snapshots count)', async () => {
    const key = await signingKey();
    const d = await makeDeployment({ encryption: 'encryption: none', extraYaml: `signing: { keyFile: ${key.file}, trust: [${key.publicKey}] }` });
    const older = await backup(d.config);
    const newest = await backup(d.config);
    expect((await status(d.config)).report.health).toBe('ok');
    await deleteSnapshot(d.target, newest, 1);
    const forgedId = `${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '')}-f0f0f0`;
    await forgeSnapshot(d.target, { id: forgedId, entries: [{ path: 'file.txt', body: Buffer.from('forged') }] });
    const list = await runCli(['list', '--json', '-c', d.config], PASS);
    const rows = list.json() as { id: string; signature: string; wentBackwards?: { seenId: string } }[];
    expect(rows.find((r) => r.id === forgedId)?.signature).toBe('unsigned');
    expect(rows.find((r) => r.id === older)).toMatchObject({ signature: 'trusted', wentBackwards: { seenId: newest } });
    const refused = await restore(d, 'latest');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('E_ROLLBACK');
  });

  it('the record is a cache: deleting it accepts the target as it is', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await backup(d.config);
    const newest = await backup(d.config);
    await runCli(['list', '-c', d.config], PASS);
    const record = join(d.root, '.failsafe', 'seen-snapshots', 'failsafe.yaml.json');
    expect(JSON.parse(await readFile(record, 'utf8'))).toMatchObject({ disk: { [JOB]: { id: newest } } });
    await deleteSnapshot(d.target, newest, 1);
    await writeFile(record, 'not json');
    expect((await restore(d, 'latest')).code).toBe(0);
    expect((await status(d.config)).report.health).toBe('ok');
  });

  it('format 2: list marks each snapshot trusted, untrusted or unsigned, in --json and as text', async () => {
    const [ours, theirs] = [await signingKey(), await signingKey()];
    const d = await makeDeployment({ extraYaml: `${V2}\nsigning: { keyFile: ${ours.file}, trust: [${ours.publicKey}] }` });
    const trusted = await backup(d.config);
    const text = await readFile(d.config, 'utf8');
    const unsignedConfig = join(d.root, 'unsigned.yaml');
    await writeFile(unsignedConfig, text.replace(/^signing: .*$/m, ''));
    const unsigned = await backup(unsignedConfig);
    const otherConfig = join(d.root, 'other.yaml');
    await writeFile(otherConfig, text.replace(/^signing: .*$/m, `signing: { keyFile: ${theirs.file} }`));
    const untrusted = await backup(otherConfig);
    const list = await runCli(['list', '--json', '-c', d.config], PASS);
    expect(list.code, list.stderr).toBe(0);
    const marks = Object.fromEntries((list.json() as { id: string; signature: string }[]).map((r) => [r.id, r.signature]));
    expect(marks).toEqual({ [trusted]: 'trusted', [unsigned]: 'unsigned', [untrusted]: 'untrusted' });
    const table = await runCli(['list', '-c', d.config], PASS);
    expect(table.stdout).toMatch(new RegExp(`${untrusted}.*untrusted`));
    // --trust adds a key for the run: then theirs is trusted too.
    const withTrust = await runCli(['list', '--json', '--trust', theirs.publicKey, '-c', d.config], PASS);
    expect((withTrust.json() as { id: string; signature: string }[]).find((r) => r.id === untrusted)?.signature).toBe('trusted');
    // Without signing.trust nothing is required, and nothing is marked.
    const plain = await runCli(['list', '--json', '-c', unsignedConfig], PASS);
    expect((plain.json() as { signature?: string }[]).every((r) => r.signature === undefined)).toBe(true);
  });
});
