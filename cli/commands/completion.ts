/** `failsafe completion bash|zsh|fish`: a shell completion script, from the same definitions as `--help`. */
import { Argument } from 'commander';
import { commandTree } from '../command-tree.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import type { CommandContext } from '../context.js';

export function registerCompletion({ program, io }: CommandContext): void {
  program
    .command('completion')
    .description('print a completion script for the shell: source <(failsafe completion bash)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action((shell: Shell) => void io.stdout.write(completionScript(shell, commandTree(program))));
}
