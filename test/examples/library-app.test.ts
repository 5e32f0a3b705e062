/**
 * examples/library-app: an application using the library. Killed mid-batch,
 * it resumes from its checkpoint on the next run, then backs up its SQLite
 * database; the snapshot restores to a database holding the whole batch.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/failsafe.js';

const app = join(import.meta.dirname, '..', '..', 'examples', 'library-app', 'app.js');

function run(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  const child = spawn(process.execPath, [app, ...args], { env: { PATH: process.env.PATH } });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout }));
  });
}

describe('the library example app', () => {
  it('resumes a crashed batch from its checkpoint and backs up the database after the run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-app-'));
    const crashed = await run(['--dir', dir, '--batch', 'b1', '--crash-at', '60']);
    expect(crashed.signal).toBe('SIGKILL');
    expect(crashed.stdout).not.toContain('snapshot');

    const resumed = await run(['--dir', dir, '--batch', 'b1']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('resuming "Import of batch b1" at 25% (running)');
    expect(resumed.stdout).toContain('imported 150 readings of batch b1, starting at 50');
    const id = /snapshot (\S+) in backups/.exec(resumed.stdout)?.[1];
    expect(id).toBeDefined();

    const failsafe = await Failsafe.fromConfig(
      {
        version: 1,
        targets: { backups: { type: 'local', path: './backups' } },
        encryption: { passphrase: 'example only: read it from your secret store' },
        jobs: { app: { sources: [{ type: 'sqlite', name: 'database', path: './data/app.db' }], targets: ['backups'] } },
      },
      { baseDir: dir },
    );
    try {
      expect((await failsafe.list()).map((s) => s.id)).toEqual([id]);
      await failsafe.restore(id!, { to: join(dir, 'restored') });
    } finally {
      await failsafe.close();
    }
    const restored = new Database(join(dir, 'restored', 'database', 'app.db'), { readonly: true });
    try {
      expect(restored.prepare("select count(*) from readings where batch = 'b1'").pluck().get()).toBe(200);
    } finally {
      restored.close();
    }
  });
});
