/**
 * A reader that stops reading (`failsafe ls latest | head`, `failsafe dump … | head -c`) ends the output, not
 * the command: exit 0, no stack trace, nothing on stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';

/** Runs the built CLI, reads `keep` bytes of its stdout and then closes the pipe, as `head -c` does. */
async function readThenClose(args: string[], keep: number): Promise<{ code: number; got: number; stderr: string }> {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...PASS }, stdio: 'pipe' });
  let got = 0;
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    got += c.length;
    if (got >= keep) child.stdout.destroy();
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve(status ?? -1));
  });
  return { code, got, stderr };
}

describe('output to a reader that went away', () => {
  it('ls and dump stop writing and exit 0, saying nothing', async () => {
    const d = await makeDeployment({ extraYaml: 'repository: { format: 2 }' });
    // More than a pipe holds (64 KiB), so the writes meet the closed end.
    await mkdir(join(d.data, 'many'));
    for (let i = 0; i < 1500; i++) await writeFile(join(d.data, 'many', `a-file-with-a-long-name-${String(i).padStart(5, '0')}.txt`), `${i}`);
    await writeFile(join(d.data, 'big.bin'), randomBytes(4 * 1024 * 1024));
    const backup = await runCli(['backup', '-c', d.config], PASS);
    expect(backup.code, backup.stderr).toBe(0);

    const ls = await readThenClose(['ls', 'latest', '-c', d.config], 100);
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(0);
    const dump = await readThenClose(['dump', 'latest', 'data/big.bin', '-c', d.config], 1000);
    expect(dump.stderr).toBe('');
    expect(dump.code).toBe(0);
    expect(dump.got).toBeLessThan(4 * 1024 * 1024);
  });
});
