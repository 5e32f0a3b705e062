/** `failsafe keys rotate`: re-wrap existing snapshots for the configuration's current key set. */
import { ExitCode, ERROR_CODES, FailsafeError, type ErrorCode } from '../../core/errors.js';
import { withIdentityOptions, type IdentityOptions } from '../identity.js';
import type { CommandContext, CommonOptions } from '../context.js';

interface RotateOptions extends CommonOptions, IdentityOptions {
  job?: string;
  target?: string;
  oldKeyFile?: string;
  oldPassphraseEnv?: string;
  dryRun?: boolean;
}

export function registerKeys({ program, command, open, print, setExit, io }: CommandContext): void {
  const keys = program.command('keys').description('key management');
  withIdentityOptions(
    command(
      'rotate',
      "re-wrap existing snapshots' data keys (and a format 2 repository's config and packs) for the key set in the configuration (data is not re-encrypted)",
      keys,
    ),
  )
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--old-key-file <file>', 'a key file that opens the snapshots but is no longer in the configuration')
    .option('--old-passphrase-env <var>', 'variable holding a passphrase that opens the snapshots but is no longer in the configuration')
    .option('--dry-run', 'open and re-wrap in memory, write nothing')
    .action(async (options: RotateOptions) => {
      const previous: { passphrase?: string; keyFile?: string } = {};
      if (options.oldKeyFile !== undefined) previous.keyFile = options.oldKeyFile;
      if (options.oldPassphraseEnv !== undefined) {
        const value = io.env[options.oldPassphraseEnv];
        if (!value) throw new FailsafeError('E_KEY_MISSING', `variable ${options.oldPassphraseEnv} is not set or empty`);
        previous.passphrase = value;
      }
      const failsafe = await open(options);
      try {
        const report = await failsafe.rotateKeys({
          ...(options.job ? { job: options.job } : {}),
          ...(options.target ? { target: options.target } : {}),
          previous,
          dryRun: options.dryRun === true,
        });
        const verb = options.dryRun ? 'would re-wrap' : 're-wrapped';
        print({ ...report, dryRun: options.dryRun === true }, () =>
          [
            ...report.rotated.map((s) => `${verb} ${s.job}/${s.id} in ${s.target}\n`),
            ...report.failures.map((f) => `FAILED ${f.object ?? `${f.job}/${f.id}`} in ${f.target}: ${f.message} [${f.code}]\n`),
            ...(report.repositories ?? []).map(
              (r) =>
                `${r.target}: ${r.packs} pack${r.packs === 1 ? '' : 's'} and ${r.snapshots} snapshot object${r.snapshots === 1 ? '' : 's'} ${verb}, config ${r.config ? verb : 'unchanged'}, ${r.unchanged} unchanged\n`,
            ),
            `${report.rotated.length} snapshot${report.rotated.length === 1 ? '' : 's'} ${verb}, ${report.failures.length} failed\n`,
          ].join(''),
        );
        if (report.failures.length > 0) {
          setExit(report.rotated.length > 0 ? ExitCode.partial : (ERROR_CODES[report.failures[0]!.code as ErrorCode] ?? ExitCode.failed));
        }
      } finally {
        await failsafe.close();
      }
    });
}
