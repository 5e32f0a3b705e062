import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../core/fs/atomic.js';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { treeHash } from '../helpers/tree.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => sshd?.stop());

/** A deployment whose job stores on an sftp target served by the test's sshd. */
async function deployment(trust: string) {
  const remote = join(sshd.dir, `nas-${Math.random().toString(36).slice(2)}`);
  const d = await makeDeployment({
    targets: `targets:
  nas:
    type: sftp
    host: 127.0.0.1
    port: ${sshd.port}
    username: ${sshd.username}
    path: ${remote}
    ${trust}
    privateKey: ${sshd.clientKey}`,
    jobs: `jobs:
  app:
    sources:
      - { type: directory, path: ./app/data }
      - { type: config-file, path: ./app/config.json, name: config }
    targets: [nas]`,
  });
  return { ...d, remote };
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe('backup → list → restore → verify on an sftp target', () => {
  it('round-trips the deployment through a real OpenSSH server', async () => {
    const d = await deployment(`knownHosts: ${sshd.knownHosts}`);
    try {
      const backup = await runCli(['backup', '-c', d.config, '--json'], PASS);
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      const [snapshot] = backup.json().snapshots;
      expect(snapshot).toMatchObject({ job: 'app', target: 'nas' });

      const list = await runCli(['list', '-c', d.config, '--json'], PASS);
      expect(list.json().map((s: { id: string }) => s.id)).toEqual([snapshot.id]);

      const to = join(d.root, 'restored');
      const restore = await runCli(['restore', 'latest', '--to', to, '-c', d.config, '--json'], PASS);
      expect(restore.code).toBe(0);
      expect(await treeHash(join(to, 'data'), 1000)).toBe(await treeHash(d.data, 1000));
      expect(await readFile(join(to, 'config', 'config.json'), 'utf8')).toBe(await readFile(d.appConfig, 'utf8'));

      const verify = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], PASS);
      expect(verify.code).toBe(0);
      expect(verify.json()).toMatchObject({ ok: true, errors: [] });

      const stored = await files(d.remote);
      expect(stored.length).toBeGreaterThan(1);
      expect(stored.filter((name) => name.startsWith(TEMP_PREFIX))).toEqual([]);
    } finally {
      await rm(d.root, { recursive: true, force: true });
      await rm(d.remote, { recursive: true, force: true });
    }
  });

  it('a server with another host key fails the backup with one line and exit 3, sending nothing', async () => {
    const d = await deployment(`hostKey: "SHA256:${'B'.repeat(43)}"`);
    try {
      const backup = await runCli(['backup', '-c', d.config], PASS);
      expect(backup.code).toBe(3);
      expect(backup.stderr.trim().split('\n')).toHaveLength(1);
      expect(backup.stderr).toContain('[E_HOST_KEY]');
      expect(backup.stderr).toContain(sshd.fingerprint);
      expect(await readdir(d.remote).catch(() => 'absent')).toBe('absent');
    } finally {
      await rm(d.root, { recursive: true, force: true });
    }
  });

  it('insecureAcceptAnyHostKey works but warns on every run', async () => {
    const d = await deployment('insecureAcceptAnyHostKey: true');
    try {
      for (const args of [['backup'], ['list']]) {
        const run = await runCli([...args, '-c', d.config], PASS);
        expect(run.code).toBe(0);
        expect(run.stderr).toMatch(/^warning: target "nas": insecureAcceptAnyHostKey is on: .*NOT checked/m);
      }
    } finally {
      await rm(d.root, { recursive: true, force: true });
      await rm(d.remote, { recursive: true, force: true });
    }
  });

  it('a server whose disk fills up fails the backup at once with E_STORAGE, and keeps nothing it cannot resume from', async (ctx) => {
    const d = await deployment(`knownHosts: ${sshd.knownHosts}`);
    await mkdir(d.remote);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=5m', 'tmpfs', d.remote], { stdio: 'ignore' });
    } catch {
      await rm(d.root, { recursive: true, force: true });
      return ctx.skip(); // mounting a small disk needs root
    }
    try {
      // Eight 4 MiB segments: every segment the backup keeps in flight is taken before the first put fails.
      await writeFile(join(d.data, 'video.raw'), randomBytes(30 * 1024 * 1024));
      const backup = await runCli(['backup', '-c', d.config], PASS);
      expect(backup.code).toBe(1);
      expect(backup.stderr.trim().split('\n')).toHaveLength(1);
      expect(backup.stderr).toMatch(/^error: job app: target "nas": .*\[E_STORAGE\]$/m);
      const left = (await readdir(d.remote, { recursive: true })).map(String);
      expect(left.filter((p) => p.includes(TEMP_PREFIX))).toEqual([]);
      if (!left.some((p) => p.startsWith('checkpoints/') && p.endsWith('.json')))
        expect(left.filter((p) => p.startsWith('data/') && /\/\d+$/.test(p))).toEqual([]);
    } finally {
      execFileSync('umount', [d.remote]);
      await rm(d.root, { recursive: true, force: true });
      await rm(d.remote, { recursive: true, force: true });
    }
  });
});
