/** `failsafe verify`: the snapshots' objects are present, or with --read-data every byte reads back. */
import { ERROR_CODES, ExitCode, type ErrorCode } from '../../core/errors.js';
import type { VerifyReport } from '../../core/restore/verify.js';
import type { CommandContext, CommonOptions } from '../context.js';
import { withIdentityOptions, type IdentityOptions } from '../identity.js';
import { retriesLine } from '../output.js';
import { pick } from '../pick.js';
import { verifyProgress, withProgressOption, type ProgressMode } from '../progress.js';

interface VerifyOptions extends CommonOptions, IdentityOptions {
  job?: string;
  target?: string;
  all?: boolean;
  readData?: boolean;
  progress?: ProgressMode;
}

export function registerVerify({ command, open, print, setExit, io }: CommandContext): void {
  withProgressOption(withIdentityOptions(command('verify [snapshot]', 'check snapshots: objects present, or with --read-data every byte')))
    .option('--job <job>', 'only this job')
    .option('--target <target>', 'only this target')
    .option('--all', 'every snapshot instead of the latest')
    .option('--read-data', 'download, decrypt and check every segment and file')
    .action(async (ref: string | undefined, options: VerifyOptions) => {
      const failsafe = await open(options);
      // Only reading the data takes long enough to show: a plain verify is a few requests per snapshot.
      const progress = options.readData ? await verifyProgress(io, options) : undefined;
      try {
        const chosen = { ...pick(options, 'job', 'target'), all: options.all === true, readData: options.readData === true };
        const report = await failsafe.verify(ref, { ...chosen, ...(progress ? { onProgress: progress.update } : {}) }).finally(() => progress?.stop());
        print(report, () => formatVerify(report) + retriesLine(report.retries));
        if (!report.ok) setExit(Math.max(...report.errors.map((e) => ERROR_CODES[e.code as ErrorCode] ?? ExitCode.failed)));
      } finally {
        await failsafe.close();
      }
    });
}

function formatVerify(report: VerifyReport): string {
  const n = report.headerOnly ?? 0;
  const headerOnly = n > 0 ? ` (${n} snapshot${n === 1 ? '' : 's'} by ${n === 1 ? 'its' : 'their'} public header only: no private key here)` : '';
  return report.ok
    ? `ok: ${report.checked} objects checked${headerOnly}\n`
    : report.errors.map((e) => `FAILED ${e.job}/${e.id} in ${e.target}${e.object ? ` (${e.object})` : ''}: ${e.message}\n`).join('');
}
