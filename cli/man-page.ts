/**
 * failsafe(1), written from the command tree (the commander definitions behind `--help`) by `npm run man`
 * into docs/failsafe.1; test/cli/man-page.test.ts fails when that file is stale.
 */
import type { CommandInfo, OptionInfo } from './command-tree.js';

/** roff text: backslashes and dashes escaped, and no line taken for a request. */
const roff = (s: string): string =>
  s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');

/** Listed once, under COMMON OPTIONS, not under every command. */
const COMMON = ['--config', '--json', '--debug'];

const EXIT_CODES: [number, string][] = [
  [0, 'success'],
  [1, 'the operation failed (a source, a target, a restore step)'],
  [2, 'bad usage or configuration: fix the command line or the YAML'],
  [3, 'integrity failure: a checksum mismatch, failed authentication, a wrong key or passphrase, an unsafe archive path'],
  [4, 'partial success: some jobs or targets succeeded and others failed'],
];

export function manPage(tree: CommandInfo[], meta: { version: string; description: string }): string {
  const lines = [
    `.TH FAILSAFE 1 "" "failsafe ${roff(meta.version)}" "User Commands"`,
    '.SH NAME',
    `failsafe \\- back up, verify and safely restore deployments`,
    '.SH SYNOPSIS',
    '.B failsafe',
    '\\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.br',
    '.B failsafe',
    '[\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR]',
    '.SH DESCRIPTION',
    roff(`${meta.description} Errors are one line on stderr ending in a stable code such as [E_USAGE], listed in docs/errors.md.`),
    '.SH COMMON OPTIONS',
    roff('Every command but completion takes these, before or after its name:'),
  ];
  const common = tree.find((c) => c.path === 'backup')?.options.filter((o) => COMMON.includes(o.long)) ?? [];
  for (const option of common) lines.push('.TP', optionLine(option), roff(option.description));
  lines.push('.SH COMMANDS');
  for (const command of tree.filter((c) => c.subcommands.length === 0)) {
    lines.push(`.SS "${roff(`failsafe ${command.path}${command.args ? ` ${command.args}` : ''}`)}"`, roff(command.description));
    for (const option of command.options.filter((o) => !COMMON.includes(o.long))) lines.push('.TP', optionLine(option), roff(option.description));
  }
  lines.push('.SH EXIT STATUS');
  for (const [code, meaning] of EXIT_CODES) lines.push('.TP', `.B ${code}`, roff(meaning));
  lines.push(
    '.SH SHELL COMPLETION',
    roff('failsafe completion bash|zsh|fish prints a completion script for the shell, e.g. source <(failsafe completion bash).'),
    '.SH SEE ALSO',
    roff('README.md and docs/*.md in the package: configuration.md, restore.md, errors.md, retention.md, status.md.'),
  );
  return `${lines.join('\n')}\n`;
}

function optionLine(option: OptionInfo): string {
  const names = [option.short, option.long].filter((n): n is string => n !== undefined).map((n) => `\\fB${roff(n)}\\fR`);
  return `${names.join(', ')}${option.value ? ` \\fI${roff(option.value)}\\fR` : ''}`;
}
