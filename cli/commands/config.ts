/** `failsafe config validate`: the configuration file loads, or the first problem with its line. */
import type { CommandContext, CommonOptions } from '../context.js';

export function registerConfig({ program, command, open, print }: CommandContext): void {
  const config = program.command('config').description('configuration tools');
  command('validate', 'check the configuration, its key file and its sources; report the first problem', config).action(async (options: CommonOptions) => {
    const failsafe = await open(options);
    let valid: { file: string; jobs: string[] };
    try {
      valid = await failsafe.validate();
    } finally {
      await failsafe.close();
    }
    const { file, jobs } = valid;
    print({ ok: true, file, jobs }, () => `${file}: ok (${jobs.length} job${jobs.length === 1 ? '' : 's'}: ${jobs.join(', ')})\n`);
  });
}
