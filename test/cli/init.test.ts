import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

async function folder(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-init-'));
  await mkdir(join(root, 'data'));
  const db = new Database(join(root, 'data', 'app.db'));
  db.exec('create table readings (t text, v real); insert into readings values (datetime(), 21.5);');
  db.close();
  new Database(join(root, 'data', 'cache')).exec('create table c (k text)'); // a database without an extension
  await writeFile(join(root, 'data', 'fake.db'), 'not a database, whatever the name says');
  await writeFile(join(root, '.env'), 'TOKEN=abc\n');
  await writeFile(join(root, '.env.example'), 'TOKEN=\n');
  await writeFile(join(root, 'config.json'), '{"port": 8080}');
  await mkdir(join(root, 'config'));
  await writeFile(join(root, 'config', 'config.json'), '{"nested": true}');
  await writeFile(join(root, 'config', 'app.yaml'), 'name: app\n');
  await mkdir(join(root, 'node_modules', 'dep'), { recursive: true });
  await writeFile(join(root, 'node_modules', 'dep', 'config.json'), '{}');
  await writeFile(join(root, 'readme.txt'), 'hello');
  return root;
}

describe('failsafe init', () => {
  it('writes a commented configuration that finds databases by header and config files by name, and works as is', async () => {
    const root = await folder();
    const config = join(root, 'failsafe.yaml');
    const init = await runCli(['init', '-c', config, '--json']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const result = init.json();
    expect(result).toMatchObject({ config, keyFile: join(root, 'failsafe.key'), keyCreated: true });
    expect(result.databases).toEqual(['data/app.db', 'data/cache']);
    expect(result.configFiles).toEqual(['.env', 'config.json', 'config/app.yaml', 'config/config.json']);
    expect(result.nextSteps.join('\n')).toContain('failsafe backup');

    const yaml = await readFile(config, 'utf8');
    expect(yaml).toMatch(/^# Failsafe deployment for failsafe-init-/);
    expect(yaml).toContain('# Where snapshots go.');
    expect(yaml).toContain('- { type: sqlite, name: app.db, path: "./data/app.db" }');
    // config.json twice: two sources, since one source keeps its files side by side by base name
    expect(yaml).toContain('- { type: config-file, name: env, paths: ["./.env", "./config.json", "./config/app.yaml"] }');
    expect(yaml).toContain('- { type: config-file, name: config.json, paths: ["./config/config.json"] }');
    expect((await stat(join(root, 'failsafe.key'))).mode & 0o777).toBe(0o600);

    expect((await runCli(['config', 'validate', '-c', config])).code).toBe(0);
    const backup = await runCli(['backup', '-c', config, '--json']);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    // The six found, and fake.db through the data folder's own source (its databases excluded there).
    expect(backup.json().snapshots[0]).toMatchObject({ target: 'local', files: 7 });
  });

  it('backs up every folder of files, its databases through their own source, and says what it left out and why', async () => {
    const root = await folder();
    await mkdir(join(root, 'uploads', '2026', '05'), { recursive: true });
    for (let i = 0; i < 43; i++) await writeFile(join(root, 'uploads', '2026', '05', `u${i}.jpg`), `photo ${i}`);
    await mkdir(join(root, 'empty'));
    const config = join(root, 'failsafe.yaml');
    const init = await runCli(['init', '-c', config]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('found 2 folders of files: data, uploads\n');
    expect(init.stdout).toContain('left out config/: holds only the databases and config files above\n');
    expect(init.stdout).toContain('left out empty/: empty\n');
    expect(init.stdout).toContain('left out node_modules/: dependencies: reinstalled, not restored\n');
    const yaml = await readFile(config, 'utf8');
    expect(yaml).toContain('- { type: directory, name: uploads, path: "./uploads" }');
    expect(yaml).toContain(
      '- { type: directory, name: data, path: "./data", exclude: ["app.db", "app.db-wal", "app.db-shm", "app.db-journal", "cache", "cache-wal", "cache-shm", "cache-journal"] }',
    );
    const backup = await runCli(['backup', '-c', config, '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    const listed = await runCli(['find', 'u42.jpg', '-c', config, '--json']);
    expect(listed.stdout).toContain('u42.jpg');
  });

  it('refuses to overwrite an existing failsafe.yaml (exit 2) and keeps an existing key', async () => {
    const root = await folder();
    const config = join(root, 'failsafe.yaml');
    await writeFile(join(root, 'failsafe.key'), 'an existing key\n');
    const first = await runCli(['init', '-c', config]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`kept the existing key ${join(root, 'failsafe.key')}`);
    expect(first.stdout).toMatch(/next steps:\n {2}1\. review/);
    expect(await readFile(join(root, 'failsafe.key'), 'utf8')).toBe('an existing key\n');
    const written = await readFile(config, 'utf8');
    const again = await runCli(['init', '-c', config]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`error: ${config} already exists; edit it, or remove it to start over [E_USAGE]\n`);
    expect(await readFile(config, 'utf8')).toBe(written);
  });

  it('in a folder with nothing recognisable, backs up the folder without its own backups', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-init-plain-'));
    await writeFile(join(root, 'photo.jpg'), Buffer.alloc(1000, 1));
    const config = join(root, 'failsafe.yaml');
    expect((await runCli(['init', '-c', config])).code).toBe(0);
    expect(await readFile(config, 'utf8')).toContain('exclude: [backups, node_modules, .git, .failsafe, "failsafe.key"]');
    const first = await runCli(['backup', '-c', config, '--json']);
    const second = await runCli(['backup', '-c', config, '--json']);
    expect(first.code).toBe(0);
    expect(second.json().snapshots[0].files).toBe(first.json().snapshots[0].files); // backups/ and the local state in .failsafe/ are not backed up
    expect(first.json().snapshots[0].files).toBe(2); // photo.jpg and failsafe.yaml
  });
});
