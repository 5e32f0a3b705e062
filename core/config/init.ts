/**
 * `failsafe init`: a first, commented failsafe.yaml for a folder, from what
 * is in it. SQLite databases are found by their 16-byte header (their names
 * vary: .db, .sqlite, .sqlite3, none); configuration files by their usual
 * names. The walk is shallow and skips dependency and VCS folders.
 */
import { open, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { writeNewKeyFile } from '../crypto/keys.js';
import { FailsafeError, fromCreateError } from '../errors.js';
import { exists } from '../restore/swap.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', 'backups', 'dist', 'build', '.cache', '__pycache__', '.venv', 'venv']);
const CONFIG_NAMES = /^(\.env(\..+)?|config\.json|settings\.json|appsettings\.json|.+\.ya?ml|.+\.toml|.+\.ini|.+\.conf)$/;
const MAX_DEPTH = 3;
const MAX_CONFIG_DEPTH = 2;
const MAX_FILES = 5000;

export interface InitOptions {
  /** The configuration file to write (default `failsafe.yaml`); the folder it is in is scanned. */
  config?: string;
  /** The key file, relative to the folder (default `failsafe.key`); an existing one is kept. */
  keyFile?: string;
}

export interface InitResult {
  config: string;
  keyFile: string;
  keyCreated: boolean;
  /** Paths relative to the folder. */
  databases: string[];
  configFiles: string[];
  nextSteps: string[];
}

/** Writes failsafe.yaml and a key file; E_USAGE (exit 2) when the configuration already exists. */
export async function initDeployment(options: InitOptions = {}): Promise<InitResult> {
  const config = resolve(options.config ?? 'failsafe.yaml');
  const dir = dirname(config);
  if (await exists(config)) throw new FailsafeError('E_USAGE', `${config} already exists; edit it, or remove it to start over`);
  const keyName = options.keyFile ?? 'failsafe.key';
  const keyFile = resolve(dir, keyName);
  const found = await scan(dir, new Set([config, keyFile]));
  const keyCreated = !(await exists(keyFile));
  if (keyCreated) await writeNewKeyFile(keyFile);
  await writeFile(config, renderConfig(basename(dir), found, relative(dir, keyFile)), { flag: 'wx' }).catch((err: unknown) => {
    throw fromCreateError(err, config, 'a configuration');
  });
  const nextSteps = [
    `review ${relative(process.cwd(), config) || config}: the sources found and where backups go (targets.local.path)`,
    `copy ${keyName} somewhere safe, away from this disk: without it the backups cannot be read`,
    `add ${keyName} and backups/ to .gitignore`,
    'failsafe config validate && failsafe backup',
    'failsafe list, then failsafe verify --read-data now and then',
  ];
  return { config, keyFile, keyCreated, ...found, nextSteps };
}

async function scan(root: string, ignore: Set<string>): Promise<{ databases: string[]; configFiles: string[] }> {
  const databases: string[] = [];
  const configFiles: string[] = [];
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (++seen > MAX_FILES) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH && !SKIPPED_DIRS.has(entry.name) && !(entry.name.startsWith('.') && entry.name !== '.config')) await walk(path, depth + 1);
        continue;
      }
      if (!entry.isFile() || ignore.has(path)) continue;
      const rel = relative(root, path).split(sep).join('/');
      if (await isSqlite(path)) databases.push(rel);
      else if (depth < MAX_CONFIG_DEPTH && CONFIG_NAMES.test(entry.name) && !/\.example$|\.sample$/.test(entry.name)) configFiles.push(rel);
    }
  };
  await walk(root, 0);
  return { databases: databases.sort(), configFiles: configFiles.sort() };
}

async function isSqlite(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(SQLITE_MAGIC);
  } finally {
    await handle.close();
  }
}

/** A source name from a path: letters, digits, `.`, `_`, `-`, starting with a letter or digit, unique in the job. */
function nameFor(path: string, taken: Set<string>): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'source';
  let name = clean(basename(path));
  if (taken.has(name)) name = clean(path.replace(/\//g, '-'));
  for (let i = 2; taken.has(name); i++) name = `${clean(basename(path))}-${i}`;
  taken.add(name);
  return name;
}

const q = (path: string): string => JSON.stringify(`./${path}`);

function renderConfig(folder: string, found: { databases: string[]; configFiles: string[] }, keyFile: string): string {
  const taken = new Set<string>();
  const sources: string[] = [];
  if (found.databases.length > 0) {
    sources.push('      # SQLite databases (found by their header): snapshotted consistently while the app writes');
    for (const db of found.databases) sources.push(`      - { type: sqlite, name: ${nameFor(db, taken)}, path: ${q(db)} }`);
  }
  if (found.configFiles.length > 0) {
    sources.push('      # Configuration files: each restored atomically, JSON and YAML checked after a restore');
    // One source per group of distinct base names (a source stores its files side by side).
    const groups: string[][] = [];
    for (const file of found.configFiles) {
      const group = groups.find((g) => !g.some((f) => basename(f) === basename(file)));
      if (group) group.push(file);
      else groups.push([file]);
    }
    for (const group of groups)
      sources.push(`      - { type: config-file, name: ${nameFor(groups.length === 1 ? 'config' : group[0]!, taken)}, paths: [${group.map(q).join(', ')}] }`);
  }
  const nothing = sources.length === 0;
  if (nothing)
    sources.push(
      '      # Nothing recognisable was found: the whole folder, minus what should not be in a backup',
      `      - { type: directory, name: ${nameFor(folder, taken)}, path: ., exclude: [backups, node_modules, .git, ${JSON.stringify(basename(keyFile))}] }`,
    );
  sources.push(
    '      # Folders of files (uploads, photos):',
    '      # - { type: directory, path: ./uploads, exclude: ["*.tmp"] }',
    '      # A database server through its dump tool:',
    '      # - { type: command, name: postgres, command: [pg_dump, -Fc, app], restoreCommand: [pg_restore, --clean, -d, app] }',
  );
  const job = nameFor(folder, new Set());
  return `# Failsafe deployment for ${folder}, written by \`failsafe init\`.
# Every key is described in docs/configuration.md; check this file with
#   failsafe config validate
version: 1

targets:
  # Where snapshots go. Point this at another disk (a USB disk, a NAS mount) so
  # that losing this disk does not take the backups with it; with
  # requireMount: true a disk that is not mounted fails the backup instead of
  # filling this one.
  local:
    type: local
    path: ./backups

encryption:
  # Snapshots are encrypted with this key. Keep a copy somewhere safe:
  # without it the backups cannot be read. A passphrase works too:
  #   passphrase: "\${FAILSAFE_PASSPHRASE}"
  keyFile: ${JSON.stringify(`./${keyFile}`)}

# zstd 1 is the default (level 3 packs text tighter, more slowly); brotli, gzip and none are there too.
compression: { algorithm: zstd, level: 1 }

jobs:
  ${job}:
    sources:
${sources.join('\n')}
    targets: [local]
`;
}
