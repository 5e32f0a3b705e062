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
import { Command, CommanderError } from 'commander';
import { ExitCode, asFailsafeError, exitCodeOf } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { registerBackup, runBackup } from './commands/backup.js';
import { registerConfig } from './commands/config.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDrill } from './commands/drill.js';
import { registerInit } from './commands/init.js';
import { registerKeygen } from './commands/keygen.js';
import { registerKeys } from './commands/keys.js';
import { registerList } from './commands/list.js';
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
  registerDrill,
  registerStatus,
  registerDaemon,
  registerUi,
  registerKeys,
  registerInit,
  registerRecovery,
];

/** What the command that ran leaves for the exit: its status, and how an error is to be reported. */
interface RunState {
  exit: number;
  json: boolean;
  debug: boolean;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const state: RunState = { exit: ExitCode.ok, json: false, debug: false };
  const program = createProgram(io);
  const context = createContext(program, io, state);
  for (const register of COMMANDS) register(context);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exit;
  } catch (err) {
    return reportError(err, io, state);
  }
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
        .hook('preAction', (cmd) => {
          state.json = cmd.opts<CommonOptions>().json === true;
          state.debug = cmd.opts<CommonOptions>().debug === true;
        }),
    open: async (options) => {
      const identity = identityFrom(options, io.env);
      const trust = trustFrom(options);
      const { Failsafe } = await import('../api/failsafe.js');
      return Failsafe.open(options.config, { env: io.env, warn, ...(identity ? { identity } : {}), ...(trust ? { trust } : {}) });
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
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  const code = exitCodeOf(err);
  const failsafeCode = asFailsafeError(err).code;
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: ${message.split('\n')[0]} [${failsafeCode}]\n`);
  if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  if (json) io.stdout.write(`${JSON.stringify({ error: { code: failsafeCode, message } })}\n`);
  return code;
}
