/**
 * Every bad input gets a one-line error with its documented exit code, and
 * nothing is lost: no half snapshot is visible, no live data is changed.
 */
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack as tarPack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { encodeManifest, sha256, type Manifest } from '../../core/format/manifest.js';
import { manifestKey, segmentKey } from '../../core/repository/layout.js';
import { makeDeployment, PASS, runCli, runCliUnprivileged } from '../helpers/cli.js';

const oneLine = (text: string): void => {
  const lines = text.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: .+ \[E_[A-Z_]+\]$/);
};

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).sort();
}

describe('configuration errors exit 2 with one line', () => {
  it('malformed YAML names the file and line', async () => {
    const d = await makeDeployment();
    await writeFile(d.config, 'version: 1\ntargets:\n  disk: { type: local, path: ./t\n');
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/failsafe\.yaml:\d+/);
  });

  it('a --timeout that is not one: exit 2, one line saying what is expected', async () => {
    const d = await makeDeployment();
    for (const bad of ['idle=30', 'idle=fast', 'wait=30s', 'idle=0s']) {
      const r = await runCli(['backup', '-c', d.config, '--timeout', bad], PASS);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`"${bad}" is not a time-out`);
    }
  });

  it('a missing config file', async () => {
    const r = await runCli(['list', '-c', '/nonexistent/failsafe.yaml']);
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain('E_CONFIG');
  });

  it('an unknown source type and an unknown target', async () => {
    const d = await makeDeployment({ jobs: 'jobs:\n  app:\n    sources: [ { type: tape, path: ./app/data } ]\n    targets: [disk]' });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/tape/);
    const e = await makeDeployment({ jobs: 'jobs:\n  app:\n    sources: [ { type: directory, path: ./app/data } ]\n    targets: [cloud]' });
    const r2 = await runCli(['backup', '-c', e.config], PASS);
    expect(r2.code).toBe(2);
    oneLine(r2.stderr);
    expect(r2.stderr).toMatch(/cloud/);
  });

  it('a missing environment variable is an error, not an empty string', async () => {
    const d = await makeDeployment();
    const r = await runCli(['backup', '-c', d.config], {});
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain('FAILSAFE_PASSPHRASE');
    expect(await files(d.target)).toEqual([]);
  });

  it('an unknown job and an unknown option', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', 'nojob', '-c', d.config], PASS)).code).toBe(2);
    expect((await runCli(['backup', '--frobnicate', '-c', d.config], PASS)).code).toBe(2);
  });

  it('a restore --to a file, or under one, or through a link to one: exit 2 before anything is read or written', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const file = join(d.root, 'a-file');
    await writeFile(file, 'not a folder');
    await symlink(file, join(d.root, 'a-link'));
    for (const [to, message] of [
      [file, `--to ${file} is not a folder`],
      [join(file, 'sub', 'x'), `--to ${join(file, 'sub', 'x')}: ${file} is not a folder`],
      [join(d.root, 'a-link'), `--to ${join(d.root, 'a-link')} is not a folder`],
    ] as const) {
      const r = await runCli(['restore', 'latest', '--to', to, '-c', d.config], PASS);
      expect(r.code).toBe(2);
      oneLine(r.stderr);
      expect(r.stderr).toContain(`error: ${message} [E_USAGE]`);
    }
    expect(await readFile(file, 'utf8')).toBe('not a folder');
    expect((await files(d.root)).filter((p) => p.includes('.failsafe-staging'))).toEqual([]);
  });

  it('config validate reports ok, and --json errors are one JSON document', async () => {
    const d = await makeDeployment();
    const ok = await runCli(['config', 'validate', '-c', d.config, '--json'], PASS);
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ ok: true, jobs: ['app'] });
    const bad = await runCli(['list', '-c', join(d.root, 'missing.yaml'), '--json']);
    expect(bad.code).toBe(2);
    expect(bad.json().error.code).toBe('E_CONFIG');
  });
});

describe('source errors exit 1 and leave no snapshot', () => {
  it('a missing source path', async () => {
    const d = await makeDeployment();
    await rm(d.data, { recursive: true });
    const r = await runCli(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not exist/);
    expect((await runCli(['list', '-c', d.config, '--json'], PASS)).json()).toEqual([]);
    expect(await files(join(d.target, 'data'))).toEqual([]);
  });

  it('an unreadable file', async () => {
    const d = await makeDeployment();
    // The CLI runs as an unprivileged user: everything else must be open to it.
    for (const path of [d.root, ...(await readdir(d.root, { recursive: true })).map((p) => join(d.root, String(p)))]) {
      await chmod(path, (await stat(path)).isDirectory() ? 0o777 : 0o666);
    }
    await chmod(join(d.data, 'readings.csv'), 0o000);
    const r = await runCliUnprivileged(['backup', '-c', d.config], PASS);
    expect(r.code).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/readings\.csv/);
    expect(r.stderr).toMatch(/E_SOURCE_READ/);
    expect((await runCli(['list', '-c', d.config, '--json'], PASS)).json()).toEqual([]);
  });
});

describe('integrity errors exit 3', () => {
  it('a wrong passphrase: "wrong key or corrupted data", nothing restored', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const to = join(d.root, 'restored');
    const r = await runCli(['restore', 'latest', '--to', to, '-c', d.config], { FAILSAFE_PASSPHRASE: 'guess' });
    expect(r.code).toBe(3);
    oneLine(r.stderr);
    expect(r.stderr).toContain('wrong key or corrupted data');
    expect(await files(to)).toEqual([]);
    const v = await runCli(['verify', '-c', d.config], { FAILSAFE_PASSPHRASE: 'guess' });
    expect(v.code).toBe(3);
  });

  it('a flipped byte in a stored segment: verify and restore name the object, live data untouched', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const segment = (await files(d.target)).find((f) => f.startsWith('data/') && /\/\d{8}$/.test(f))!;
    const path = join(d.target, segment);
    const bytes = await readFile(path);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0x01;
    await writeFile(path, bytes);

    const quick = await runCli(['verify', '-c', d.config, '--json'], PASS);
    expect(quick.code).toBe(0); // sizes and presence are intact; only --read-data reads the bytes
    const deep = await runCli(['verify', 'latest', '--read-data', '-c', d.config, '--json'], PASS);
    expect(deep.code).toBe(3);
    expect(deep.json().ok).toBe(false);
    expect(deep.json().errors[0].object).toBe(segment);
    expect(deep.json().errors[0].message).toContain(segment);

    await writeFile(join(d.data, 'readings.csv'), 'live data');
    const r = await runCli(['restore', 'latest', '--yes', '-c', d.config], PASS);
    expect(r.code).toBe(3);
    oneLine(r.stderr);
    expect(r.stderr).toContain(segment);
    expect(await readFile(join(d.data, 'readings.csv'), 'utf8')).toBe('live data');
    expect((await readdir(join(d.root, 'app'))).filter((n) => n.startsWith('.failsafe'))).toEqual([]);
  });

  it('a restore failing half-way leaves no trace of a --to folder it made; an existing one stays as it was', async () => {
    const d = await makeDeployment();
    // Two segments, the second damaged: the first is already being written when the damage is found.
    await writeFile(join(d.data, 'big.bin'), randomBytes(6 * 1024 * 1024));
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const last = (await files(d.target))
      .filter((f) => f.startsWith('data/') && /\/\d{8}$/.test(f))
      .sort()
      .at(-1)!;
    const bytes = await readFile(join(d.target, last));
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
    await writeFile(join(d.target, last), bytes);

    const made = await runCli(['restore', 'latest', '--to', join(d.root, 'new', 'deeper', 'restored'), '-c', d.config], PASS);
    expect(made.code).toBe(3);
    expect(made.stderr).toContain(last);
    await expect(stat(join(d.root, 'new'))).rejects.toThrow(/ENOENT/);
    await mkdir(join(d.root, 'existing'));
    expect((await runCli(['restore', 'latest', '--to', join(d.root, 'existing'), '-c', d.config], PASS)).code).toBe(3);
    expect(await readdir(join(d.root, 'existing'))).toEqual([]);
  });

  it('a deleted segment object is reported by a quick verify', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const segment = (await files(d.target)).find((f) => f.startsWith('data/') && /\/\d{8}$/.test(f))!;
    await rm(join(d.target, segment));
    const r = await runCli(['verify', '-c', d.config, '--json'], PASS);
    expect(r.code).toBe(3);
    expect(r.json().errors[0].object).toBe(segment);
  });

  it('an archive entry with .. is refused and nothing is written outside the destination', async () => {
    const d = await makeDeployment({ encryption: 'encryption: none' });
    await craftSnapshot(d.target, '../escaped.txt');
    const to = join(d.root, 'restored');
    const r = await runCli(['restore', 'latest', '--to', to, '-c', d.config]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('E_UNSAFE_PATH');
    await expect(stat(join(d.root, 'escaped.txt'))).rejects.toThrow();
    await expect(stat(join(to, 'escaped.txt'))).rejects.toThrow();
  });
});

describe('hostile snapshots restored in place', () => {
  const absolute = join(tmpdir(), 'failsafe-absolute-escape.txt');
  it.each(['../escaped.txt', absolute, 'a/../../escaped.txt'])(
    '%s is refused (exit 3) before the plan, the live data and the outside are untouched',
    async (hostile) => {
      const d = await makeDeployment({ encryption: 'encryption: none' });
      await craftSnapshot(d.target, hostile);
      const before = await files(d.data);
      for (const args of [['--dry-run'], ['--yes'], ['--yes', '--path', '**']]) {
        const r = await runCli(['restore', 'latest', ...args, '-c', d.config]);
        expect(r.code).toBe(3);
        oneLine(r.stderr);
        expect(r.stderr).toContain('E_UNSAFE_PATH');
      }
      expect(await files(d.data)).toEqual(before);
      await expect(stat(join(d.root, 'app', 'escaped.txt'))).rejects.toThrow();
      await expect(stat(join(d.root, 'escaped.txt'))).rejects.toThrow();
      await expect(stat(absolute)).rejects.toThrow();
    },
  );
});

/** Writes an unencrypted snapshot of job "app" whose only entry has the given (hostile) path. */
async function craftSnapshot(target: string, hostilePath: string): Promise<void> {
  const id = '20260101T000000Z-abcdef';
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  pack.entry({ name: `data/${hostilePath}`, size: 5, mode: 0o644, mtime: new Date(0) }, Buffer.from('owned'));
  pack.finalize();
  await done;
  const plain = Buffer.concat(chunks);
  const key = segmentKey('app', id, 0);
  await mkdir(join(target, 'data', 'app', id), { recursive: true });
  await writeFile(join(target, key), plain);
  const manifest: Manifest = {
    format: 1,
    id,
    job: 'app',
    createdAt: '2026-01-01T00:00:00.000Z',
    tool: 'test',
    compression: { algorithm: 'none', level: 0 },
    cipher: 'none',
    segmentSize: 1 << 20,
    tarBytes: plain.length,
    sources: [{ name: 'data', type: 'directory', entries: 1, bytes: 5 }],
    segments: [{ index: 0, key, storedSize: plain.length, sha256: sha256(plain), plainSize: plain.length, plainSha256: sha256(plain) }],
    entries: [
      {
        source: 'data',
        path: hostilePath,
        type: 'file',
        size: 5,
        mode: 0o644,
        mtime: new Date(0).toISOString(),
        sha256: sha256(Buffer.from('owned')),
        segment: 0,
        offset: 0,
      },
    ],
  };
  const encoded = await encodeManifest(manifest, { files: 1, bytes: 5, storedBytes: plain.length, segments: 1 }, { cipher: 'none' });
  await mkdir(join(target, 'manifests', 'app'), { recursive: true });
  await writeFile(join(target, manifestKey('app', id)), encoded);
}
