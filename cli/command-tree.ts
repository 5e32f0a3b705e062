/**
 * The commands and options of the program as plain data, read from the commander definitions that parse the
 * command line: the completion scripts and the man page are generated from it, so they cannot drift from `--help`.
 */
import type { Command } from 'commander';

export interface OptionInfo {
  /** `--tag`, `--no-safety-snapshot`. */
  long: string;
  /** `-c`, when the option has one. */
  short?: string;
  /** `<file>` for an option that takes a value. */
  value?: string;
  description: string;
}

export interface CommandInfo {
  /** `backup`, or `config validate` for a subcommand. */
  path: string;
  /** `[jobs...]`, `<snapshot>`. */
  args: string;
  description: string;
  options: OptionInfo[];
  /** A group (`config`, `keys`) has subcommands and no action of its own. */
  subcommands: string[];
}

export function commandTree(program: Command): CommandInfo[] {
  const out: CommandInfo[] = [];
  const visit = (command: Command, prefix: string): void => {
    for (const sub of command.commands) {
      const path = `${prefix}${sub.name()}`;
      out.push({
        path,
        args: sub.registeredArguments
          .map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`))
          .join(' '),
        description: sub.description(),
        options: sub.options.map(optionInfo),
        subcommands: sub.commands.map((c) => c.name()),
      });
      visit(sub, `${path} `);
    }
  };
  visit(program, '');
  return out;
}

function optionInfo(option: Command['options'][number]): OptionInfo {
  const value = /([<[][^>\]]+[>\]])/.exec(option.flags)?.[1];
  return { long: option.long!, ...(option.short ? { short: option.short } : {}), ...(value ? { value } : {}), description: option.description };
}
