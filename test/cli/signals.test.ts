/**
 * Ctrl-C (SIGINT) and SIGTERM (systemd stopping the unit) during `failsafe backup`: the backup is cancelled as a
 * failure is — `after` and `onError` run, the lock is released, the journal keeps the stored segments for a resume —
 * and the CLI exits 1 with E_ABORTED (docs/errors.md), not killed by the signal.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
const PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'stalling-source.js');

/** A job whose only source yields about four segments' worth of bytes, then waits for the cancellation. */
async function stallingDeployment(): Promise<{ root: string; config: string }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-signals-'));
  await writeFile(join(root, 'failsafe.key'), randomBytes(32).toString('base64'));
  const config = join(root, 'failsafe.yaml');
  await writeFile(
    config,
    `version: 1
plugins: [${JSON.stringify(PLUGIN)}]
targets:
  disk: { type: local, path: ./target }
encryption: { keyFile: ./failsafe.key }
segmentSize: 1MiB
parallelism: 2
jobs:
  app:
    sources: [ { type: stalling, files: 80, size: 100000 } ]
    targets: [disk]
    hooks:
      before: "echo stopped > state"
      after: "echo started-$FAILSAFE_STATUS > state"
      onError: "echo $FAILSAFE_ERROR_CODE > failed"
`,
  );
  return { root, config };
}

/** Polls `recover --list` until the running backup has recorded `segments` stored segments: a state, not a delay. */
async function untilStored(config: string, segments: number, exited: () => boolean): Promise<void> {
  while (!exited()) {
    const listed = await runCli(['recover', '--list', '--json', '-c', config]);
    const op = listed.code === 0 ? listed.json()[0] : undefined;
    if (op?.segments >= segments) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('signals during backup', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: after and onError run, the lock is released, the journal keeps the segments, exit 1 E_ABORTED',
    { timeout: 60_000 },
    async (signal) => {
      const d = await stallingDeployment();
      const child = spawn(process.execPath, [BIN, 'backup', '-c', d.config], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once('close', (code, sig) => resolve({ code, signal: sig })),
      );
      let exited = false;
      void closed.then(() => (exited = true));
      await untilStored(d.config, 2, () => exited);
      expect(exited, stderr).toBe(false);
      expect((await readFile(join(d.root, 'state'), 'utf8')).trim()).toBe('stopped');
      child.kill(signal);

      const ended = await closed;
      expect(ended, stderr).toEqual({ code: 1, signal: null });
      expect(stderr).toContain(`${signal}: cancelling backup`);
      expect(stderr).toMatch(
        new RegExp(
          `^error: backup cancelled by ${signal}: hooks ran, locks released; \`failsafe resume\` continues \\(app: \\d+ segments of snapshot \\S+ stored\\) \\[E_ABORTED\\]$`,
          'm',
        ),
      );
      expect((await readFile(join(d.root, 'state'), 'utf8')).trim()).toBe('started-failure');
      expect((await readFile(join(d.root, 'failed'), 'utf8')).trim()).toBe('E_ABORTED');
      // Released, not merely stale: with --all a lock left behind would be listed as removed.
      expect((await runCli(['unlock', '--all', '--json', '-c', d.config])).json()).toEqual([]);
      const [op] = (await runCli(['recover', '--list', '--json', '-c', d.config])).json();
      expect(op).toMatchObject({ job: 'app', state: 'failed' });
      expect(op.segments).toBeGreaterThanOrEqual(2);
      expect((await runCli(['list', '--json', '-c', d.config])).json()).toEqual([]);
    },
  );
});
