import { appendFile, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import { ConfigFileSource } from '../../plugins/config-file/config-file.js';
import { collectEntries, context, readEntry, restoreEntries, roundTrip } from './helpers.js';

async function configs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-cfg-'));
  await writeFile(join(dir, 'app.json'), '{"port": 8080}');
  await writeFile(join(dir, 'settings.yaml'), 'port: 8080\n');
  await writeFile(join(dir, 'real.env'), 'SECRET=1\n', { mode: 0o600 });
  await symlink(join(dir, 'real.env'), join(dir, '.env'));
  return dir;
}

const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => (e as FailsafeError).code,
  );

describe('config-file source', () => {
  it('stores each file under its base name, following a symlinked file to its content', async () => {
    const dir = await configs();
    const source = new ConfigFileSource({ paths: [join(dir, 'app.json'), join(dir, '.env')], check: 'auto' });
    expect(source.name).toBe('app.json');
    const entries = await collectEntries(source);
    expect(entries.map((e) => [e.path, e.type, e.size, e.mode])).toEqual([
      ['app.json', 'file', 14, 0o644],
      ['.env', 'file', 9, 0o600],
    ]);
    expect((await readEntry(entries[1]!)).toString()).toBe('SECRET=1\n');
  });

  it('a missing file is E_SOURCE_MISSING naming it; two files with one base name are E_CONFIG', async () => {
    const dir = await configs();
    const missing = join(dir, 'nope.json');
    const err = await collectEntries(new ConfigFileSource({ path: missing, check: 'auto' })).catch((e: unknown) => e);
    expect((err as FailsafeError).code).toBe('E_SOURCE_MISSING');
    expect((err as FailsafeError).message).toContain(missing);
    expect(() => new ConfigFileSource({ paths: [join(dir, 'app.json'), join(dir, 'sub', 'app.json')], check: 'auto' })).toThrow(
      /two files are named app\.json/,
    );
  });

  it('a file rewritten while being read fails with E_SOURCE_CHANGED instead of a torn copy', async () => {
    const dir = await configs();
    const [entry] = await collectEntries(new ConfigFileSource({ path: join(dir, 'app.json'), check: 'auto' }));
    await appendFile(join(dir, 'app.json'), '   ');
    expect(await codeOf(readEntry(entry!))).toBe('E_SOURCE_CHANGED');
  });

  it('restores atomically with mode and mtime, leaving no temp file', async () => {
    const dir = await configs();
    const source = new ConfigFileSource({ paths: [join(dir, 'app.json'), join(dir, '.env')], check: 'auto' });
    const to = await mkdtemp(join(tmpdir(), 'failsafe-cfg-out-'));
    await writeFile(join(to, 'app.json'), 'old');
    expect(await source.restore(roundTrip(source), to, context())).toBe(2);
    expect((await readdir(to)).sort()).toEqual(['.env', 'app.json']);
    expect(await readFile(join(to, 'app.json'), 'utf8')).toBe('{"port": 8080}');
    expect((await stat(join(to, '.env'))).mode & 0o777).toBe(0o600);
    // Dates travel with millisecond precision (and utimes takes float seconds).
    expect(Math.abs((await stat(join(to, 'app.json'))).mtimeMs - (await stat(join(dir, 'app.json'))).mtimeMs)).toBeLessThan(1);
    await source.check(to);
  });

  it('refuses nested or escaping paths in an archive', async () => {
    const source = new ConfigFileSource({ path: '/etc/app.json', check: 'auto' });
    const to = await mkdtemp(join(tmpdir(), 'failsafe-cfg-out-'));
    for (const path of ['sub/app.json', '../app.json']) {
      expect(await codeOf(source.restore(restoreEntries([{ path, type: 'file', content: '{}' }]), to, context()))).toBe('E_UNSAFE_PATH');
    }
    expect(await readdir(to)).toEqual([]);
  });

  it('check parses JSON and YAML by extension, or as told, and names the broken file', async () => {
    const dir = await configs();
    const json = new ConfigFileSource({ path: join(dir, 'app.json'), check: 'auto' });
    await json.check(dir);
    await writeFile(join(dir, 'app.json'), '{"port": 80');
    const err = await json.check(dir).catch((e: unknown) => e as FailsafeError);
    expect(err?.code).toBe('E_CHECK_FAILED');
    expect(err?.message).toMatch(/app\.json does not parse as JSON/);
    await new ConfigFileSource({ path: join(dir, 'app.json'), check: 'none' }).check(dir);

    const yaml = new ConfigFileSource({ path: join(dir, 'settings.yaml'), check: 'auto' });
    await yaml.check(dir);
    await writeFile(join(dir, 'settings.yaml'), 'port: [8080\n');
    expect(await codeOf(yaml.check(dir))).toBe('E_CHECK_FAILED');
    await writeFile(join(dir, 'real.env'), '{not json');
    expect(await codeOf(new ConfigFileSource({ path: join(dir, 'real.env'), check: 'json' }).check(dir))).toBe('E_CHECK_FAILED');
  });
});
