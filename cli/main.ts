/**
 * The `failsafe` command: a thin layer over the Failsafe API. Each command
 * prints a human summary, or with --json exactly one JSON document on stdout.
 * Errors are one line on stderr; the exit status follows docs/errors.md.
 *
 * Registering the commands must stay cheap: `--help` or a `list` must not pay
 * for every command's libraries. Implementations (api/failsafe.ts and what
 * it loads, the key tools) are imported when a command runs, and only types
 * are imported statically; test/cli/startup.test.ts keeps it that way.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ExitCode, asFailsafeError, exitCodeOf } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { parseTimeouts, type Timeouts } from '../core/repository/timeouts.js';
import { registerBackup, runBackup } from './commands/backup.js';
import { registerCompletion } from './commands/completion.js';
import { registerConfig } from './commands/config.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDrill } from './commands/drill.js';
import { registerInit } from './commands/init.js';
import { registerKeygen } from './commands/keygen.js';
import { registerKeys } from './commands/keys.js';
import { registerList } from './commands/list.js';
import { registerForget } from './commands/forget.js';
import { registerPrune } from './commands/prune.js';
import { registerRecovery } from './commands/recovery.js';
import { registerRestore } from './commands/restore.js';
import { registerStats } from './commands/stats.js';
import { registerBrowse } from './commands/browse.js';
import { registerStatus } from './commands/status.js';
import { registerUi } from './commands/ui.js';
import { registerVerify } from './commands/verify.js';
import type { CommandContext, CommonOptions } from './context.js';
import { identityFrom, trustFrom } from './identity.js';
import type { Io } from './output.js';

/** In this order in `failsafe --help`. */
const COMMANDS: ((context: CommandContext) => void)[] = [
  registerBackup,
  registerList,
  registerStats,
  registerBrowse,
  registerRestore,
  registerVerify,
  registerKeygen,
  registerConfig,
  registerPrune,
  registerForget,
  registerDrill,
  registerStatus,
  registerDaemon,
  registerUi,
  registerKeys,
  registerInit,
  registerRecovery,
  registerCompletion,
];

/** What the command that ran leaves for the exit: its status, and how an error is to be reported. */
export interface RunState {
  exit: number;
  json: boolean;
  debug: boolean;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const state: RunState = { exit: ExitCode.ok, json: false, debug: false };
  const program = defineProgram(io, state);
  const args = commonOptionsLast(argv);
  // Known before parsing, so that a usage error found by the parser is a JSON document too.
  state.json = args.includes('--json');
  endOutputOnClosedPipe(io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return state.exit;
  } catch (err) {
    return reportError(err, io, state);
  }
}

/**
 * A reader that went away (`failsafe ls latest | head`) ends the output, not the command: what it was doing (a
 * backup, say) finishes and its exit status stands, with no stack trace. Output that cannot be written for another
 * reason is said once on stderr.
 */
function endOutputOnClosedPipe(io: Io): void {
  let said = false;
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || said) return;
    said = true;
    io.stderr.write(`error: the output could not be written: ${err.message}\n`);
  });
}

/** Every command, defined: what parses the command line, and what the man page and completion scripts are written from. */
export function defineProgram(io: Io, state: RunState = { exit: ExitCode.ok, json: false, debug: false }): Command {
  const program = createProgram(io);
  const context = createContext(program, io, state);
  for (const register of COMMANDS) register(context);
  return program;
}

/**
 * `failsafe --json -c app.yaml list` as `failsafe list --json -c app.yaml`: the common options belong to every
 * command (context.command), so given before it they are moved after it, where the command takes them.
 */
function commonOptionsLast(argv: string[]): string[] {
  const moved: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json' || arg === '--debug' || arg.startsWith('--config=') || arg.startsWith('--timeout=')) moved.push(arg);
    else if ((arg === '-c' || arg === '--config' || arg === '--timeout') && i + 1 < argv.length) moved.push(arg, argv[++i]!);
    else break;
  }
  if (moved.length === 0 || i === argv.length) return argv;
  const rest = argv.slice(i);
  const end = rest.indexOf('--');
  return end < 0 ? [...rest, ...moved] : [...rest.slice(0, end), ...moved, ...rest.slice(end)];
}

function createProgram(io: Io): Command {
  return new Command('failsafe')
    .description('Back up, verify and safely restore deployments: collect → compress → encrypt → checksum → store.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showSuggestionAfterError();
}

function createContext(program: Command, io: Io, state: RunState): CommandContext {
  const warn = (message: string): void => {
    io.stderr.write(`warning: ${message}\n`);
  };
  const context: CommandContext = {
    io,
    program,
    warn,
    command: (name, description, parent = program) =>
      parent
        .command(name)
        .description(description)
        .option('-c, --config <file>', 'deployment configuration', 'failsafe.yaml')
        .option('--json', 'print one JSON document on stdout')
        .option('--debug', 'print stack traces')
        .option('--timeout <limits>', 'time-outs for remote targets, e.g. connect=10s,idle=30s,operation=2h (docs/reliability.md)', timeoutOption)
        .hook('preAction', (cmd) => {
          state.json = cmd.opts<CommonOptions>().json === true;
          state.debug = cmd.opts<CommonOptions>().debug === true;
        }),
    open: async (options) => {
      const identity = identityFrom(options, io.env);
      const trust = trustFrom(options);
      const { Failsafe } = await import('../api/failsafe.js');
      const timeouts = options.timeout ? { timeouts: options.timeout } : {};
      return Failsafe.open(options.config, { env: io.env, warn, ...(identity ? { identity } : {}), ...(trust ? { trust } : {}), ...timeouts });
    },
    print: (value, human) => void io.stdout.write(state.json ? `${JSON.stringify(value)}\n` : human()),
    setExit: (code) => void (state.exit = code),
    backup: (jobs, options) => runBackup(context, jobs, options),
  };
  return context;
}

/** One line on stderr (and the stack with --debug, the error document with --json); the exit status of its code. */
function reportError(err: unknown, io: Io, { json, debug }: RunState): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return ExitCode.ok;
    // Commander printed the line on stderr; --json promises one document on stdout, failures included.
    if (json) io.stdout.write(`${JSON.stringify({ error: { code: 'E_USAGE', message: err.message.replace(/^error: /, '') } })}\n`);
    return ExitCode.usage;
  }
  const code = exitCodeOf(err);
  const failsafeCode = asFailsafeError(err).code;
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: ${message.split('\n')[0]} [${failsafeCode}]\n`);
  if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  if (json) io.stdout.write(`${JSON.stringify({ error: { code: failsafeCode, message } })}\n`);
  return code;
}

/** `--timeout connect=10s,idle=30s,operation=2h`, read once for every command; a bad one is a usage error (exit 2). */
function timeoutOption(value: string): Timeouts {
  try {
    return parseTimeouts(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message.replace(/^--timeout: /, '') : String(err));
  }
}
