/** What main.ts hands to commands registered from their own files (cli/commands/*). */
import type { Command } from 'commander';
import type { Failsafe } from '../api/failsafe.js';
import type { IdentityOptions } from './identity.js';
import type { Io } from './output.js';
import type { Timeouts } from '../core/repository/timeouts.js';

export interface CommonOptions {
  config: string;
  json?: boolean;
  debug?: boolean;
  /** `--timeout`, parsed (core/repository/timeouts.ts). */
  timeout?: Timeouts;
}

export interface CommandContext {
  io: Io;
  /** A subcommand with the common options (-c, --json, --debug). */
  command(name: string, description: string, parent?: Command): Command;
  /** Opens the deployment; with `withIdentityOptions` on the command, with its private identity. */
  open(options: CommonOptions & IdentityOptions): Promise<Failsafe>;
  warn(message: string): void;
  /** With --json the value as one JSON document, else the human text. */
  print(value: unknown, human: () => string): void;
  setExit(code: number): void;
  /** The `backup` command's action: backs up the jobs and reports as `failsafe backup` does. */
  backup(jobs: string[], options: CommonOptions): Promise<void>;
  /** The program itself, for commands with subcommands of their own. */
  program: Command;
}
