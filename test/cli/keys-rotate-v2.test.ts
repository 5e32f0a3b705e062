/**
 * `keys rotate` over a deduplicating (format 2) repository: the config, every
 * pack's trailer and every snapshot object get the new key set's slots (and
 * the new signing key's signature); the old key set stops opening it, data
 * bytes and chunk offsets stay as they were, and dedup goes on against the
 * old packs. The crash sweep is test/crash/keys-rotate-v2.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';
import { hashes } from '../helpers/keys.js';
import { rotationDeployment } from '../helpers/rotate-v2.js';
import { treeHash } from '../helpers/tree.js';

/** Every object under `packs/`, with its size. */
async function packSizes(target: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of await readdir(join(target, 'packs'), { recursive: true })) {
    const info = await stat(join(target, 'packs', name));
    if (info.isFile()) out[name] = info.size;
  }
  return out;
}

const V2 = 'repository: { format: 2 }';

describe('keys rotate over a format 2 repository', () => {
  it('moves config, packs and snapshots to the new key set and signing key; old keys stop opening it; dedup goes on', async () => {
    const { d, a, b, sig } = await rotationDeployment();
    const backup = async (config: string): Promise<string> => {
      const run = await runCli(['backup', '-c', config, '--json']);
      expect(run.code, run.stderr).toBe(0);
      return run.json<{ snapshots: { id: string }[] }>().snapshots[0]!.id;
    };
    const first = await backup(a);
    const firstTree = await treeHash(d.data);
    await appendFile(join(d.data, 'README.md'), 'a second generation\n');
    const second = await backup(a);
    const secondTree = await treeHash(d.data);
    const before = await hashes(d.target);
    const sizes = await packSizes(d.target);
    expect(Object.keys(sizes).length).toBeGreaterThanOrEqual(2);

    const rotate = ['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b, '--json'];
    const dry = await runCli([...rotate, '--dry-run']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, failures: [], repositories: [{ target: 'disk', config: true, snapshots: 2 }] });
    expect(await hashes(d.target)).toEqual(before);

    const done = await runCli(rotate);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const report = done.json<{ rotated: { id: string }[]; repositories: { packs: number; snapshots: number; config: boolean }[] }>();
    expect(report.repositories).toEqual([expect.objectContaining({ target: 'disk', config: true, packs: Object.keys(sizes).length, snapshots: 2 })]);
    expect(report.rotated.map((s) => s.id).sort()).toEqual([first, second].sort());
    // Only the trailers changed: same packs, each a few bytes longer or shorter at most, index objects untouched.
    const after = await hashes(d.target);
    expect(Object.keys(await packSizes(d.target))).toEqual(Object.keys(sizes));
    for (const [name, size] of Object.entries(await packSizes(d.target))) expect(Math.abs(size - sizes[name]!)).toBeLessThan(1024);
    const indexOf = (all: Record<string, string>): string[] =>
      Object.keys(all)
        .filter((k) => k.startsWith('index/'))
        .map((k) => `${k}=${all[k]}`);
    expect(indexOf(after)).toEqual(indexOf(before));
    expect(after['config']).not.toBe(before['config']);

    // B restores both generations bit-identical; A opens nothing any more.
    for (const [id, expected] of [
      [first, firstTree],
      [second, secondTree],
    ] as const) {
      const to = join(d.root, `restored-${id}`);
      const restored = await runCli(['restore', id, '--to', to, '-c', b]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(await treeHash(join(to, 'data'))).toBe(expected);
    }
    const byA = await runCli(['verify', '--all', '--read-data', '-c', a, '--json']);
    expect(byA.code).toBe(3);
    expect(byA.json().errors[0].code).toBe('E_WRONG_KEY');
    expect((await runCli(['verify', '--all', '--read-data', '-c', b, '--json'])).json()).toMatchObject({ ok: true, errors: [] });

    // Re-signed by B's signing key: trusted by a reader that trusts B alone.
    const onlyB = join(d.root, 'only-b.yaml');
    await writeFile(onlyB, (await readFile(b, 'utf8')).replace(`trust: [${sig.a}, ${sig.b}]`, `trust: [${sig.b}]`));
    const listed = await runCli(['list', '-c', onlyB, '--json']);
    expect(listed.json<{ signature: string }[]>().map((s) => s.signature)).toEqual(['trusted', 'trusted']);

    // A new backup with B deduplicates against the rotated packs: it adds at most a small pack (its tree).
    await backup(b);
    const added = Object.entries(await packSizes(d.target)).filter(([name]) => !(name in sizes));
    expect(added.length).toBeLessThanOrEqual(1);
    expect(added.reduce((n, [, size]) => n + size, 0)).toBeLessThan(16 * 1024);

    // Rotating again finds nothing to do and writes nothing.
    const settled = await hashes(d.target);
    const again = await runCli(rotate);
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().repositories).toEqual([expect.objectContaining({ config: false, packs: 0, snapshots: 0 })]);
    expect(await hashes(d.target)).toEqual(settled);
  });

  it('a write-only host rotates its recipients only with an identity, and goes on deduplicating with its key file', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./dedup.key, recipients: [RECIPIENTS] }', extraYaml: V2 });
    await writeFile(join(d.root, 'dedup.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const identity = async (name: string): Promise<{ file: string; publicKey: string }> => {
      const file = join(d.root, name);
      const made = await runCli(['keygen', '--asymmetric', '--out', file, '--json']);
      return { file, publicKey: made.json<{ publicKey: string }>().publicKey };
    };
    const [alice, bob] = [await identity('alice.identity'), await identity('bob.identity')];
    const template = await readFile(d.config, 'utf8');
    await writeFile(d.config, template.replace('RECIPIENTS', alice.publicKey));
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    await writeFile(d.config, template.replace('RECIPIENTS', bob.publicKey));
    const before = await hashes(d.target);

    // The key file opens the config, not a snapshot or a pack: nothing changes hands, nothing is written.
    const stuck = await runCli(['keys', 'rotate', '-c', d.config, '--json']);
    expect(stuck.code).toBe(3);
    expect(stuck.json().failures[0]).toMatchObject({ code: 'E_WRONG_KEY', object: expect.stringMatching(/^snapshots\/app\//) });
    expect(await hashes(d.target)).toEqual(before);

    const done = await runCli(['keys', 'rotate', '--identity', alice.file, '-c', d.config]);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.stdout).toMatch(/disk: \d+ packs? and 1 snapshot object re-wrapped, config re-wrapped, 0 unchanged/);
    const verify = (who: string): Promise<{ ok: boolean; errors: { code: string }[] }> =>
      runCli(['verify', '--all', '--read-data', '--identity', who, '-c', d.config, '--json']).then((r) => r.json());
    expect(await verify(bob.file)).toMatchObject({ ok: true, errors: [] });
    expect((await verify(alice.file)).errors[0]?.code).toBe('E_WRONG_KEY');
    const sizes = await packSizes(d.target);
    expect((await runCli(['backup', '-c', d.config])).code).toBe(0);
    expect(Object.keys(await packSizes(d.target)).filter((name) => !(name in sizes)).length).toBeLessThanOrEqual(1);
  });

  it('a passphrase moves too; a snapshot signed by a key the configuration does not trust stops the rotation before anything changes hands', async () => {
    const { d, a, sig } = await rotationDeployment();
    expect((await runCli(['backup', '-c', a])).code).toBe(0);
    const passphrase = async (name: string, trust: string): Promise<string> => {
      const file = join(d.root, name);
      const yaml = (await readFile(a, 'utf8'))
        .replace('encryption: { keyFile: ./a.key }', 'encryption: { passphrase: "${NEW_PASSPHRASE}", kdf: interactive }')
        .replace(/keyFile: \.\/a\.sig, trust: \[[^\]]*\]/, `keyFile: ./b.sig, trust: [${trust}]`);
      await writeFile(file, yaml);
      return file;
    };
    const env = { NEW_PASSPHRASE: 'a new passphrase' };
    const strict = await passphrase('strict.yaml', sig.b);
    const before = await hashes(d.target);
    const rotate = (config: string): ReturnType<typeof runCli> =>
      runCli(['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', config, '--json'], env);
    const refused = await rotate(strict);
    expect(refused.code).toBe(3);
    expect(refused.json().failures.map((f: { code: string }) => f.code)).toEqual(['E_UNTRUSTED']);
    expect(await hashes(d.target)).toEqual(before);

    const trusting = await passphrase('trusting.yaml', `${sig.a}, ${sig.b}`);
    expect((await rotate(trusting)).code).toBe(0);
    expect((await runCli(['verify', '--all', '--read-data', '-c', strict, '--json'], env)).json()).toMatchObject({ ok: true, errors: [] });
    expect((await runCli(['list', '-c', strict, '--json'], env)).json()[0].signature).toBe('trusted');
    expect((await runCli(['verify', '--all', '--read-data', '-c', a, '--json'])).json().errors[0].code).toBe('E_WRONG_KEY');
    // The new passphrase's slots are recognised: a second run writes nothing.
    const settled = await hashes(d.target);
    expect((await rotate(trusting)).json().repositories[0]).toMatchObject({ config: false, packs: 0, snapshots: 0 });
    expect(await hashes(d.target)).toEqual(settled);
  });

  it('while a live backup holds a job lock in the target, rotation is refused with E_LOCKED and writes nothing', async () => {
    const { d, a, b } = await rotationDeployment();
    expect((await runCli(['backup', '-c', a])).code).toBe(0);
    const [job] = await readdir(join(d.target, 'snapshots'));
    // A lock as a running backup leaves it: this host, a live process (the test's own), a fresh heartbeat.
    const now = new Date().toISOString();
    const record = { job, owner: 'other-backup', host: hostname(), pid: process.pid, startedAt: now, heartbeat: now, leaseMs: 120_000 };
    await mkdir(join(d.target, 'locks', job!), { recursive: true });
    await writeFile(join(d.target, 'locks', job!, 'other-backup.json'), JSON.stringify(record));
    const before = await hashes(d.target);
    const refused = await runCli(['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/E_LOCKED/);
    expect(refused.stderr).toContain(`job ${job} is locked`);
    expect(await hashes(d.target)).toEqual(before);
    // A dry run takes no lock: it writes nothing either way.
    expect((await runCli(['keys', 'rotate', '--old-key-file', join(d.root, 'a.key'), '-c', b, '--dry-run'])).code).toBe(0);
  });
});
