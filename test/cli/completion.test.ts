/**
 * Shell completion and the man page, both written from the commander definitions: every command and option is in
 * each, bash really completes with the script (sourced into a real bash), and docs/failsafe.1 is not stale.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { commandTree } from '../../cli/command-tree.js';
import { defineProgram } from '../../cli/main.js';
import { manPage } from '../../cli/man-page.js';
import { VERSION } from '../../core/version.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);
const io = { stdout: process.stdout, stderr: process.stderr, env: {} };
const tree = commandTree(defineProgram(io));

/** What bash offers for the words typed so far (the last one being completed), with the generated script loaded. */
async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const program = `${script}\nCOMP_WORDS=(failsafe ${quoted}); COMP_CWORD=${words.length}; _failsafe; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await run('bash', ['-c', program]);
  return stdout.split('\n').filter(Boolean);
}

describe('failsafe completion', () => {
  it('lists every command and every option in each shell', async () => {
    expect(tree.map((c) => c.path)).toEqual(expect.arrayContaining(['backup', 'restore', 'config validate', 'keys rotate', 'completion']));
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', shell]);
      expect(r.code, r.stderr).toBe(0);
      for (const command of tree) {
        expect(r.stdout, `${shell}: ${command.path}`).toContain(command.path.split(' ').pop()!);
        for (const option of command.options) expect(r.stdout, `${shell}: ${command.path} ${option.long}`).toContain(option.long.slice(2));
      }
    }
  });

  it('completes commands, subcommands and options in a real bash', async () => {
    const script = (await runCli(['completion', 'bash'])).stdout;
    await run('bash', ['-n', '-c', script]);
    expect(await bashComplete(script, ['res'])).toEqual(['restore', 'resume']);
    expect(await bashComplete(script, ['config', ''])).toEqual(['validate']);
    expect(await bashComplete(script, ['-c', 'x.yaml', 'backup', '--t'])).toEqual(['--timeout', '--tag']);
    expect(await bashComplete(script, ['restore', 'latest', '--no-'])).toEqual(['--no-safety-snapshot', '--no-keep-previous']);
    expect(await bashComplete(script, ['keys', 'rotate', '--old-k'])).toEqual(['--old-key-file']);
  });

  it('refuses a shell it does not know with a usage error', async () => {
    const r = await runCli(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'powershell' is invalid.*bash, zsh, fish/);
  });
});

describe('the man page', () => {
  it('docs/failsafe.1 is what `npm run man` writes today, and documents every command and option', async () => {
    const page = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'failsafe.1'), 'utf8');
    expect(page, 'docs/failsafe.1 is stale: npm run build && npm run man').toBe(
      manPage(tree, { version: VERSION, description: defineProgram(io).description() }),
    );
    for (const command of tree.filter((c) => c.subcommands.length === 0)) {
      expect(page).toContain(`.SS "failsafe ${command.path.replace(/-/g, '\\-')}`);
      for (const option of command.options) expect(page).toContain(option.long.replace(/-/g, '\\-'));
    }
  });
});
