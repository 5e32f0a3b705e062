import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/failsafe.js';
import { CommandSource } from '../../plugins/command/command.js';
import { collectEntries, context, readEntry } from './helpers.js';
import { failure } from '../helpers/errors.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function spoolDirs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('failsafe-command-'));
}

describe('command source', () => {
  it("archives a command's stdout as one file, byte for byte, and removes its spool afterwards", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-cmd-'));
    const copy = join(dir, 'copy.bin');
    // 5 MB of random bytes, more than a pipe or a read chunk holds; tee keeps a copy to compare with.
    const source = new CommandSource({ command: `head -c 5000000 /dev/urandom | tee '${copy}'`, filename: 'dump.bin', tempDir: dir }, 'db');
    await source.prepare(context());
    expect(await spoolDirs(dir)).toHaveLength(1);
    const [entry] = await collectEntries(source);
    expect(entry).toMatchObject({ path: 'dump.bin', type: 'file', size: 5_000_000, mode: 0o600 });
    expect(sha(await readEntry(entry!))).toBe(sha(await readFile(copy)));
    await source.cleanup();
    expect(await spoolDirs(dir)).toEqual([]);
  });

  it('runs an argv array without a shell, with its env and cwd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-cmd-'));
    const source = new CommandSource({ command: ['sh', '-c', 'printf "%s in %s" "$GREETING" "$(pwd)"'], env: { GREETING: 'hello $HOME' }, cwd: dir });
    expect(source.name).toBe('sh');
    expect(source.filename).toBe('sh.dump');
    await source.prepare(context());
    const [entry] = await collectEntries(source);
    expect((await readEntry(entry!)).toString()).toBe(`hello $HOME in ${dir}`);
    await source.cleanup();
  });

  it('fails the job with the exit code and the tail of stderr on one line, and leaves no spool', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-cmd-'));
    const source = new CommandSource(
      { command: 'echo partial; echo "pg_dump: warming up" >&2; echo "pg_dump: error: connection refused" >&2; exit 3', tempDir: dir },
      'db',
    );
    const err = await failure(source.prepare(context()));
    expect(err.code).toBe('E_SOURCE_READ');
    expect(err.message).toBe('source "db": command echo exited with code 3: pg_dump: warming up | pg_dump: error: connection refused');
    await source.cleanup();
    expect(await spoolDirs(dir)).toEqual([]);
  });

  it('names a missing program, a timeout and a kill', async () => {
    const missing = await failure(new CommandSource({ command: ['no-such-dump-tool', '--all'] }).prepare(context()));
    expect(missing.message).toBe('source "no-such-dump-tool": command no-such-dump-tool was not found (is it installed and on PATH?)');
    const slow = new CommandSource({ command: ['sleep', '10'], timeoutMs: 200 }, 'slow');
    const started = Date.now();
    const timedOut = await failure(slow.prepare(context()));
    expect(timedOut.message).toBe('source "slow": command sleep timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(5000);
    const killed = await failure(new CommandSource({ command: 'kill -9 $$' }, 'k').prepare(context()));
    expect(killed.message).toBe('source "k": command kill was killed by SIGKILL');
    await slow.cleanup();
  });

  it('stops the command when the signal aborts', async () => {
    const controller = new AbortController();
    const source = new CommandSource({ command: ['sleep', '10'] }, 'slow');
    const running = source.prepare({ ...context(), signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe('AbortError');
    await source.cleanup();
  });
});

describe('command source through the API', () => {
  async function deployment(restoreCommand: string): Promise<{ root: string; failsafe: Failsafe; data: string; out: string }> {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-cmd-api-'));
    const data = join(root, 'db.sql');
    await writeFile(data, 'CREATE TABLE t (x int);\nINSERT INTO t VALUES (1), (2);\n'.repeat(1000));
    const out = join(root, 'restored.sql');
    await writeFile(
      join(root, 'failsafe.yaml'),
      `version: 1
targets: { disk: { type: local, path: ./target } }
encryption: none
jobs:
  db:
    sources:
      - type: command
        name: pg
        command: [cat, ./db.sql]
        cwd: .
        restoreCommand: ${JSON.stringify(restoreCommand)}
        env: { OUT: ./restored.sql }
    targets: [disk]
`,
    );
    return { root, failsafe: await Failsafe.open(join(root, 'failsafe.yaml')), data, out };
  }

  it('backs up, then restores by piping the file into the restore command, or into a folder with --to', async () => {
    const { root, failsafe, data, out } = await deployment('cat > "$OUT"');
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures).toEqual([]);
      expect(outcome.snapshots[0]).toMatchObject({ files: 1, bytes: (await readFile(data)).length });
      const result = await failsafe.restore('latest');
      expect(result.sources[0]).toMatchObject({ name: 'pg', entries: 1, destinations: [] });
      expect(await readFile(out, 'utf8')).toBe(await readFile(data, 'utf8'));
      await failsafe.restore('latest', { to: join(root, 'files') });
      expect(await readFile(join(root, 'files', 'pg', 'pg.dump'), 'utf8')).toBe(await readFile(data, 'utf8'));
      expect((await readdir(tmpdir())).filter((n) => n.startsWith('.failsafe-staging-pg-'))).toEqual([]);
    } finally {
      await failsafe.close();
    }
  });

  it('reports a failing restore command as E_RESTORE, and a failing dump as a failed job with no snapshot', async () => {
    const { failsafe, data } = await deployment('echo "psql: FATAL: database does not exist" >&2; exit 2');
    try {
      await failsafe.backup();
      const err = await failure(failsafe.restore('latest'));
      expect(err.code).toBe('E_RESTORE');
      expect(err.message).toBe('source "pg": restore command echo exited with code 2: psql: FATAL: database does not exist');
      await rm(data);
      const outcome = await failsafe.backup();
      expect(outcome.snapshots).toEqual([]);
      expect(outcome.failures[0]!.error.code).toBe('E_SOURCE_READ');
      expect(outcome.failures[0]!.error.message).toMatch(/^source "pg": command cat exited with code 1: cat: .*db\.sql: No such file or directory$/);
      // The first backup and the restore's safety snapshot of the live database; the failed dump added none.
      expect((await failsafe.list()).map((s) => s.tags ?? [])).toEqual([['pre-restore', 'pre-restore:pg'], []]);
    } finally {
      await failsafe.close();
    }
  });
});
