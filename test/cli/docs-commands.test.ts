/**
 * Every `failsafe …` line in a code block of README.md and docs/*.md names a command that exists, with options
 * that command takes: the docs cannot show a command line the CLI would refuse as unknown.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandTree } from '../../cli/command-tree.js';
import { defineProgram } from '../../cli/main.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tree = commandTree(defineProgram({ stdout: process.stdout, stderr: process.stderr, env: {} }));

/** The words after `failsafe` on each command line of a fenced code block, comments left out. */
async function documentedCommandLines(): Promise<{ file: string; words: string[] }[]> {
  const files = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const found: { file: string; words: string[] }[] = [];
  for (const file of files) {
    let inBlock = false;
    for (const line of (await readFile(join(ROOT, file), 'utf8')).split('\n')) {
      if (/^\s*```/.test(line)) inBlock = !inBlock;
      const command = inBlock ? /^\s*(?:\$ )?(?:npx )?failsafe (.*)$/.exec(line) : null;
      if (command)
        found.push({
          file,
          words: command[1]!
            .replace(/\s#.*$/, '')
            .trim()
            .split(/\s+/),
        });
    }
  }
  return found;
}

describe('the command lines in the docs', () => {
  it('name existing commands with options they take', async () => {
    const lines = await documentedCommandLines();
    expect(lines.length).toBeGreaterThan(20);
    for (const { file, words } of lines) {
      const where = `${file}: failsafe ${words.join(' ')}`;
      const operands = words.filter((w) => !w.startsWith('-'));
      const command = tree.find((c) => c.path === operands.slice(0, 2).join(' ')) ?? tree.find((c) => c.path === operands[0]);
      expect(command, `${where}: no such command`).toBeDefined();
      expect(command!.subcommands, `${where}: a group without its subcommand`).toEqual([]);
      const known = new Set(['--help', '-h', ...command!.options.flatMap((o) => [o.long, ...(o.short ? [o.short] : [])])]);
      for (const flag of words.filter((w) => w.startsWith('-')).map((w) => w.split('=')[0]!)) {
        expect(known.has(flag), `${where}: ${command!.path} has no option ${flag}`).toBe(true);
      }
    }
  });
});
