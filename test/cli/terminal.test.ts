/**
 * The CLI on a real pseudo-terminal (util-linux `script`): what a user at a terminal meets. Ctrl-C at a restore's
 * confirmation is a clean E_ABORTED, exit 1, and leaves the live data and its folder exactly as they were.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, PASS, runCli } from '../helpers/cli.js';
import { treeHash } from '../helpers/tree.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'failsafe.js');
const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs the CLI on a pseudo-terminal; `answer` is typed once `prompt` shows. Resolves with the exit code and what the terminal showed. */
function onTerminal(args: string[], prompt: RegExp, answer: string): Promise<{ code: number; screen: string }> {
  const command = ['node', BIN, ...args].map((a) => `'${a}'`).join(' ');
  // A person at a terminal, not a CI job: with CI set the CLI shows no bar (cli/progress.ts), as CI runs of this suite do.
  const { CI: _ci, ...env } = process.env;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...env, ...PASS }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (!typed && prompt.test(screen)) {
      typed = true;
      child.stdin.write(answer);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

describe.skipIf(!hasScript)('on a terminal', () => {
  it('verify --read-data shows a bar with percentage, rate and ETA', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const { code, screen } = await onTerminal(['verify', '--read-data', '-c', d.config], /^$ never/, '');
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/app .*\d+% \| .* of .* \| .*\/s \| ETA/);
    expect(screen).toMatch(/ok: \d+ objects checked/);
  });

  it('backup shows a bar with percentage, bytes of the total, rate and ETA', async () => {
    const d = await makeDeployment();
    const { code, screen } = await onTerminal(['backup', '-c', d.config], /^$ never/, '');
    expect(code, screen).toBe(0);
    // Drawn once more as the bar stops, at the run's total: 100% whatever the machine's speed.
    expect(screen).toMatch(/app \S+ 100% \| \d+ files \| .* of .* read \| .* stored \| .*\/s \| ETA 0s/);
    expect(screen).toMatch(/snapshot \S+ of app stored in disk/);
  });

  it('Ctrl-C at the restore question is E_ABORTED, exit 1, and changes nothing', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const before = await treeHash(d.root);
    const beside = (await readdir(dirname(d.data))).sort();

    const { code, screen } = await onTerminal(['restore', 'latest', '-c', d.config], /\(yes\/no\) /, '\x03');
    expect(screen).toMatch(/Replace the live data listed above\? \(yes\/no\)/);
    expect(screen).toMatch(/error: .*\[E_ABORTED\]/);
    expect(screen).not.toMatch(/E_INTERNAL|E_UNEXPECTED/);
    expect(code).toBe(1);
    expect(await treeHash(d.root)).toBe(before);
    // No staging folder, no safety snapshot: nothing was written before the answer.
    expect((await readdir(dirname(d.data))).sort()).toEqual(beside);
    expect((await runCli(['list', '-c', d.config, '--json'])).json()).toHaveLength(1);
  });

  it('a yes typed at the question restores, after a safety snapshot', async () => {
    const d = await makeDeployment();
    expect((await runCli(['backup', '-c', d.config], PASS)).code).toBe(0);
    const { code, screen } = await onTerminal(['restore', 'latest', '-c', d.config], /\(yes\/no\) /, 'yes\r');
    expect(code, screen).toBe(0);
    // The bar ends by moving the cursor to column 1 and erasing its line (ESC [1G, ESC [2K): the words then start the line shown.
    // eslint-disable-next-line no-control-regex
    expect(screen).toMatch(/(^|\x1b\[1G\x1b\[2K)restored data: /m);
    expect(screen).toMatch(/backed up first: snapshot \S+ \(pre-restore\)/);
  });
});
