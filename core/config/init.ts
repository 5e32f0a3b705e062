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
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', 'backups', '.failsafe', 'dist', 'build', '.cache', '__pycache__', '.venv', 'venv']);
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
  /** Top-level folders backed up as directory sources. */
  folders: string[];
  /** Top-level folders that are not, and why. */
  leftOut: { path: string; reason: string }[];
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
  const { databases, configFiles, folders, leftOut } = found;
  return { config, keyFile, keyCreated, databases, configFiles, folders, leftOut, nextSteps };
}

interface Found {
  databases: string[];
  configFiles: string[];
  /** Top-level folders holding other files than those (a folder too deep to walk counts as holding some). */
  folders: string[];
  /** Per such folder, the databases and config files in it, backed up by their own sources: relative to it. */
  covered: Map<string, string[]>;
  leftOut: { path: string; reason: string }[];
}

async function scan(root: string, ignore: Set<string>): Promise<Found> {
  const databases: string[] = [];
  const configFiles: string[] = [];
  const plain = new Map<string, number>();
  const covered = new Map<string, string[]>();
  const leftOut: Found['leftOut'] = [];
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (++seen > MAX_FILES) return;
      const path = join(dir, entry.name);
      const rel = relative(root, path).split(sep).join('/');
      const top = depth === 0 ? undefined : rel.split('/')[0]!;
      if (entry.isDirectory()) {
        const why = skippedBecause(entry.name);
        if (depth === 0 && why) leftOut.push({ path: `${rel}/`, reason: why });
        if (depth === 0 && !why) plain.set(rel, 0);
        if (why) continue;
        if (depth < MAX_DEPTH) await walk(path, depth + 1);
        else plain.set(top!, plain.get(top!)! + 1);
        continue;
      }
      if (!entry.isFile() || ignore.has(path)) continue;
      const cover = (): void => void (top && covered.set(top, [...(covered.get(top) ?? []), rel.slice(top.length + 1)]));
      if (await isSqlite(path)) {
        databases.push(rel);
        cover();
      } else if (depth < MAX_CONFIG_DEPTH && CONFIG_NAMES.test(entry.name) && !/\.example$|\.sample$/.test(entry.name)) {
        configFiles.push(rel);
        cover();
      } else if (top) plain.set(top, plain.get(top)! + 1);
    }
  };
  await walk(root, 0);
  const folders = [...plain].filter(([, n]) => n > 0).map(([folder]) => folder);
  for (const [folder, n] of plain) {
    if (n === 0) leftOut.push({ path: `${folder}/`, reason: covered.has(folder) ? 'holds only the databases and config files above' : 'empty' });
  }
  return { databases: databases.sort(), configFiles: configFiles.sort(), folders, covered, leftOut };
}

/** Why a top-level folder is not a source, or undefined when it may be. */
function skippedBecause(name: string): string | undefined {
  if (name === 'node_modules' || name === '.venv' || name === 'venv') return 'dependencies: reinstalled, not restored';
  if (name === '.git' || name === '.hg' || name === '.svn') return 'version control: its remote is its backup';
  if (name === 'backups') return 'where this configuration puts the backups';
  if (SKIPPED_DIRS.has(name)) return 'build output or cache: made again';
  if (name.startsWith('.') && name !== '.config') return 'hidden: add it if it holds data';
  return undefined;
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

/** A directory source per top-level folder of files; the databases and config files in it have their own sources. */
function folderSources(found: Found, taken: Set<string>): string[] {
  const lines = found.folders.length > 0 ? ['      # Folders of files (uploads, photos); `exclude: ["*.tmp"]` leaves files out'] : [];
  for (const folder of found.folders) {
    // A database copied as a plain file while the app writes could be torn: its own source snapshots it.
    const own = (found.covered.get(folder) ?? []).flatMap((f) =>
      found.databases.includes(`${folder}/${f}`) ? [f, `${f}-wal`, `${f}-shm`, `${f}-journal`] : [f],
    );
    const exclude = own.length > 0 ? `, exclude: [${own.map((f) => JSON.stringify(f)).join(', ')}]` : '';
    lines.push(`      - { type: directory, name: ${nameFor(folder, taken)}, path: ${q(folder)}${exclude} }`);
  }
  for (const { path, reason } of found.leftOut) lines.push(`      # left out: ${path} (${reason})`);
  return lines;
}

function renderConfig(folder: string, found: Found, keyFile: string): string {
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
  sources.push(...folderSources(found, taken));
  const nothing = sources.length === 0;
  if (nothing)
    sources.push(
      '      # Nothing recognisable was found: the whole folder, minus what should not be in a backup',
      `      - { type: directory, name: ${nameFor(folder, taken)}, path: ., exclude: [backups, node_modules, .git, .failsafe, ${JSON.stringify(basename(keyFile))}] }`,
    );
  sources.push(
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
