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
import { Command, CommanderError, Option } from 'commander';
import { resolve } from 'node:path';
import { ERROR_CODES, ExitCode, FailsafeError, exitCodeOf, type ErrorCode } from '../core/errors.js';
import type { Failsafe } from '../api/failsafe.js';
import type { RestoreResult } from '../core/restore/run-restore.js';
import { VERSION } from '../core/version.js';
import { registerKeys } from './commands/keys.js';
import { identityFrom, withIdentityOptions, type IdentityOptions } from './identity.js';
import { registerDrill } from './commands/drill.js';
import { registerInit } from './commands/init.js';
import { registerDaemon } from './commands/daemon.js';
import { registerPrune } from './commands/prune.js';
import { registerStatus } from './commands/status.js';
import { registerRecovery } from './commands/recovery.js';
import type { CommandContext, CommonOptions } from './context.js';
import { createProgress } from './progress.js';
import { formatBytes, formatSnapshots, snapshotJson, type Io } from './output.js';
import { confirmRestore, formatRestored, type RestoreCliOptions } from './restore-output.js';

export async function main(argv: string[], io: Io): Promise<number> {
  let exit: number = ExitCode.ok;
  let json = false;
  let debug = false;
  const program = new Command('failsafe')
    .description('Back up, verify and safely restore deployments: collect → compress → encrypt → checksum → store.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showSuggestionAfterError();

  const command = (name: string, description: string, parent: Command = program): Command =>
    parent
      .command(name)
      .description(description)
      .option('-c, --config <file>', 'deployment configuration', 'failsafe.yaml')
      .option('--json', 'print one JSON document on stdout')
      .option('--debug', 'print stack traces')
      .hook('preAction', (cmd) => {
        json = cmd.opts<CommonOptions>().json === true;
        debug = cmd.opts<CommonOptions>().debug === true;
      });

  const warn = (message: string): void => {
    io.stderr.write(`warning: ${message}\n`);
  };
  const open = async (options: CommonOptions & IdentityOptions): Promise<Failsafe> => {
    const identity = identityFrom(options, io.env);
    const { Failsafe } = await import('../api/failsafe.js');
    return Failsafe.open(options.config, { env: io.env, warn, ...(identity ? { identity } : {}) });
  };
  const print = (value: unknown, human: () => string): void => {
    io.stdout.write(json ? `${JSON.stringify(value)}\n` : human());
  };

  const backup = async (jobs: string[], options: CommonOptions): Promise<void> => {
    const failsafe = await open(options);
    try {
      const progress = await createProgress(io, !json);
      const outcome = await failsafe.backup(jobs, { warn, onProgress: progress.update }).finally(progress.stop);
      const snapshots = outcome.snapshots.map((s) => ({ ...snapshotJson(s), ...(s.resumed ? { resumed: s.resumed } : {}) }));
      const failures = outcome.failures.map((f) => ({ job: f.job, ...(f.target ? { target: f.target } : {}), code: f.error.code, message: f.error.message }));
      print(failures.length > 0 ? { snapshots, failures } : { snapshots }, () =>
        outcome.snapshots
          .map((s) => {
            const resumed = s.resumed ? `; resumed: ${s.resumed.reusedSegments} segments reused, ${s.resumed.uploadedSegments} sent` : '';
            return `snapshot ${s.id} of ${s.job} stored in ${s.target}: ${s.files} files, ${formatBytes(s.bytes)} (${formatBytes(s.storedBytes)} stored${resumed})\n`;
          })
          .join(''),
      );
      for (const failure of outcome.failures) {
        const where = failure.target ? `job ${failure.job}, target ${failure.target}` : `job ${failure.job}`;
        io.stderr.write(`error: ${where}: ${failure.error.message.split('\n')[0]} [${failure.error.code}]\n`);
      }
      if (outcome.failures.length > 0) {
        exit = outcome.snapshots.length > 0 ? ExitCode.partial : outcome.failures[0]!.error.exitCode;
      }
    } finally {
      await failsafe.close();
    }
  };
  command('backup [jobs...]', 'back up the given jobs (all by default), resuming an interrupted backup of a job').action(backup);

  command('list', 'list snapshots, newest first')
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .action(async (options: CommonOptions & { job?: string; target?: string }) => {
      const failsafe = await open(options);
      try {
        const snapshots = await failsafe.list({ ...pick(options, 'job', 'target'), warn });
        print(snapshots.map(snapshotJson), () => formatSnapshots(snapshots));
      } finally {
        await failsafe.close();
      }
    });

  withIdentityOptions(command('restore <snapshot>', 'restore a snapshot (an id, a unique prefix of one, or "latest")'))
    .option('--job <job>', 'the job the snapshot belongs to')
    .option('--target <target>', 'read from this target')
    .option('--source <name...>', 'only these sources')
    .option('--path <glob...>', 'only entries matching these globs (paths inside a source; a directory brings its subtree)')
    .option('--to <dir>', 'restore each source into <dir>/<source name>/ instead of where it came from')
    .option('--dry-run', 'show what would be created, replaced and deleted; change nothing')
    .option('-y, --yes', 'replace live data without asking (for scripts)')
    .addOption(new Option('--no-safety-snapshot', 'do not back up the live data being replaced first'))
    .addOption(new Option('--no-keep-previous', 'delete replaced data instead of keeping it as <path>.pre-restore-<time>'))
    .action(async (ref: string, options: CommonOptions & RestoreCliOptions) => {
      const failsafe = await open(options);
      try {
        const result = await failsafe.restore(ref, {
          ...pick(options, 'job', 'target'),
          ...(options.source ? { sources: options.source } : {}),
          ...(options.path ? { paths: options.path } : {}),
          ...(options.to ? { to: resolve(options.to) } : {}),
          dryRun: options.dryRun === true,
          keepPrevious: options.keepPrevious,
          safetySnapshot: options.safetySnapshot,
          ...(options.yes ? {} : { confirm: (plan: RestoreResult) => confirmRestore(io, plan) }),
          warn,
        });
        print(result, () => formatRestored(result));
      } finally {
        await failsafe.close();
      }
    });

  withIdentityOptions(command('verify [snapshot]', 'check snapshots: objects present, or with --read-data every byte'))
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--all', 'every snapshot instead of the latest')
    .option('--read-data', 'download, decrypt and check every segment and file')
    .action(async (ref: string | undefined, options: CommonOptions & { job?: string; target?: string; all?: boolean; readData?: boolean }) => {
      const failsafe = await open(options);
      try {
        const report = await failsafe.verify(ref, { ...pick(options, 'job', 'target'), all: options.all === true, readData: options.readData === true });
        print(report, () =>
          report.ok
            ? `ok: ${report.checked} objects checked\n`
            : report.errors.map((e) => `FAILED ${e.job}/${e.id} in ${e.target}${e.object ? ` (${e.object})` : ''}: ${e.message}\n`).join(''),
        );
        if (!report.ok) exit = Math.max(...report.errors.map((e) => ERROR_CODES[e.code as ErrorCode] ?? ExitCode.failed));
      } finally {
        await failsafe.close();
      }
    });

  command('keygen', 'write a new random key file (mode 0600) for `encryption: { keyFile }`, or with --asymmetric an identity')
    .option('--out <file>', 'where to write the key (default failsafe.key, or failsafe.identity with --asymmetric)')
    .option('--if-missing', 'do nothing when the file already exists')
    .option('--asymmetric', 'write a private identity and print its public key, for `encryption: { recipients }`')
    .option('--passphrase-env <var>', 'with --asymmetric: protect the identity with the passphrase in this variable')
    .action(async (options: CommonOptions & { out?: string; ifMissing?: boolean; asymmetric?: boolean; passphraseEnv?: string }) => {
      const path = resolve(options.out ?? (options.asymmetric ? 'failsafe.identity' : 'failsafe.key'));
      const { exists } = await import('../core/restore/swap.js');
      if (options.ifMissing && (await exists(path))) {
        print({ keyFile: path, created: false }, () => `${path} exists; kept it\n`);
        return;
      }
      if (options.passphraseEnv !== undefined && !options.asymmetric) throw new FailsafeError('E_USAGE', '--passphrase-env goes with --asymmetric');
      if (options.asymmetric) {
        const passphrase = options.passphraseEnv === undefined ? undefined : io.env[options.passphraseEnv];
        if (options.passphraseEnv !== undefined && !passphrase)
          throw new FailsafeError('E_KEY_MISSING', `variable ${options.passphraseEnv} is not set or empty`);
        const { writeNewIdentity } = await import('../core/crypto/identity.js');
        const publicKey = await writeNewIdentity(path, passphrase);
        print(
          { identity: path, publicKey, protected: passphrase !== undefined, created: true },
          () =>
            `wrote a new identity to ${path}; keep it off the backup host and keep a copy somewhere safe\npublic key (for encryption.recipients):\n${publicKey}\n`,
        );
        return;
      }
      const { writeNewKeyFile } = await import('../core/crypto/keys.js');
      await writeNewKeyFile(path);
      print({ keyFile: path, created: true }, () => `wrote a new key to ${path}; keep a copy somewhere safe: without it the backups cannot be read\n`);
    });

  const config = program.command('config').description('configuration tools');
  command('validate', 'check the configuration file and report the first problem with its line', config).action(async (options: CommonOptions) => {
    const failsafe = await open(options);
    let valid: { file: string; jobs: string[] };
    try {
      valid = failsafe.validate();
    } finally {
      await failsafe.close();
    }
    const { file, jobs } = valid;
    print({ ok: true, file, jobs }, () => `${file}: ok (${jobs.length} job${jobs.length === 1 ? '' : 's'}: ${jobs.join(', ')})\n`);
  });

  const context: CommandContext = { io, command, open, warn, print, setExit: (code) => void (exit = code), program, backup };
  registerPrune(context);
  registerDrill(context);
  registerStatus(context);
  registerDaemon(context);
  registerKeys(context);
  registerInit(context);
  registerRecovery(context);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const code = exitCodeOf(err);
    const failsafeCode = err instanceof FailsafeError ? err.code : 'E_UNEXPECTED';
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`error: ${message.split('\n')[0]} [${failsafeCode}]\n`);
    if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    if (json) io.stdout.write(`${JSON.stringify({ error: { code: failsafeCode, message } })}\n`);
    return code;
  }
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
