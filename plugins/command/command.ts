/**
 * The output of a command (`pg_dump`, `mysqldump`, `redis-cli --rdb -`) as
 * one file. A tar header needs the size before the bytes, and a dump's size
 * is known only at its end, so `prepare()` streams stdout into a spool file
 * (memory stays bounded) and fails the job when the command exits non-zero.
 * An in-place restore pipes the restored file into `restoreCommand`; a
 * restore with `--to` just writes the file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { LiveLocation, RestoreEntry, SourceRestoreOptions, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { mtimeOf } from '../../core/fs/mtime.js';
import { FailsafeError, isAbortError } from '../../core/errors.js';
import { defineSource } from '../../core/sdk/registry.js';
import { commandText, describeFailure, programName, runCommand, type CommandLine, type RunOptions } from './run.js';
import { restoreFlatFiles } from '../../core/sdk/flat-files.js';

const commandLine = z.union([z.string().min(1, 'the command is empty'), z.array(z.string().min(1)).min(1, 'the command is empty')]);

export const commandOptions = z
  .object({
    /** An argv array (run directly) or a string (run with `sh -c`). */
    command: commandLine,
    /** Fed the file on stdin by an in-place restore. */
    restoreCommand: commandLine.optional(),
    /** The file's name inside the snapshot (default: `<source name>.dump`). */
    filename: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"')
      .optional(),
    /** Added to the environment of both commands (e.g. PGPASSWORD: "${PGPASSWORD}"). */
    env: z.record(z.string(), z.string()).default({}),
    /** Kill a command that runs longer than this (default: no limit). */
    timeoutMs: z.number().int().min(1).optional(),
    cwd: z.string().min(1).optional(),
    /** Where the output is spooled before it is archived (default: the system temp folder). */
    tempDir: z.string().min(1).optional(),
  })
  .strict();
export type CommandOptions = z.input<typeof commandOptions>;

export class CommandSource implements SourcePlugin {
  readonly type = 'command';
  readonly name: string;
  readonly filename: string;
  readonly #options: z.output<typeof commandOptions>;
  #work: string | undefined;
  #spool: string | undefined;
  #startedAt: Date | undefined;

  /** Present only with a `restoreCommand`: without one an in-place restore has nowhere to go. */
  readonly applyRestore?: (restoredPath: string, options: SourceRestoreOptions) => Promise<void>;

  constructor(options: CommandOptions, name = programName(options.command)) {
    this.#options = commandOptions.parse(options);
    this.name = name;
    this.filename = this.#options.filename ?? `${name}.dump`;
    const restoreCommand = this.#options.restoreCommand;
    if (restoreCommand) this.applyRestore = (path, opts) => this.#pipeInto(restoreCommand, join(path, this.filename), opts);
  }

  liveLocations(): LiveLocation[] {
    return [];
  }

  async prepare(context: SourceContext): Promise<void> {
    this.#work = await mkdtemp(join(this.#options.tempDir ?? tmpdir(), 'failsafe-command-'));
    const spool = join(this.#work, this.filename);
    this.#startedAt = new Date();
    const result = await this.#run(this.#options.command, {
      stdout: createWriteStream(spool, { mode: 0o600 }),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    if (!result.ok) {
      throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": command ${programName(this.#options.command)} ${describeFailure(result)}`);
    }
    this.#spool = spool;
  }

  async *entries(): AsyncIterable<SourceEntry> {
    const spool = this.#spool;
    if (!spool) throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": the command was not run (prepare() was not called)`);
    const info = await stat(spool);
    yield {
      path: this.filename,
      type: 'file',
      size: info.size,
      mode: 0o600,
      mtime: this.#startedAt ?? mtimeOf(info),
      open: () => createReadStream(spool, { highWaterMark: 1024 * 1024 }),
    };
  }

  describe(): Record<string, unknown> {
    return {
      command: programName(this.#options.command),
      ...(this.#options.restoreCommand ? { restoreCommand: programName(this.#options.restoreCommand) } : {}),
    };
  }

  async cleanup(): Promise<void> {
    if (this.#work) await rm(this.#work, { recursive: true, force: true });
    this.#work = undefined;
    this.#spool = undefined;
  }

  async restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number> {
    return restoreFlatFiles(entries, destination, options, `source "${this.name}" holds one file`);
  }

  async #pipeInto(command: CommandLine, file: string, options: SourceRestoreOptions): Promise<void> {
    const result = await this.#run(command, {
      stdin: createReadStream(file, { highWaterMark: 1024 * 1024 }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!result.ok) {
      throw new FailsafeError('E_RESTORE', `source "${this.name}": restore command ${programName(command)} ${describeFailure(result)}`);
    }
  }

  async #run(command: CommandLine, streams: Pick<RunOptions, 'stdin' | 'stdout' | 'signal'>): Promise<Awaited<ReturnType<typeof runCommand>>> {
    const { env, cwd, timeoutMs } = this.#options;
    try {
      return await runCommand(command, { env, ...(cwd ? { cwd } : {}), ...(timeoutMs ? { timeoutMs } : {}), ...streams });
    } catch (err) {
      if (isAbortError(err)) throw err;
      throw new FailsafeError('E_SOURCE_READ', `source "${this.name}": cannot run ${commandText(command)}: ${(err as Error).message}`, { cause: err });
    }
  }
}

export const commandSource = defineSource({
  type: 'command',
  optionsSchema: commandOptions,
  defaultName: (options: z.output<typeof commandOptions>) => programName(options.command).replace(/[^A-Za-z0-9._-]/g, '_'),
  create: (options: z.output<typeof commandOptions>, name: string) => new CommandSource(options, name),
});
