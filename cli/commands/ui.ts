/** `failsafe ui`: the web dashboard (docs/ui.md) until SIGTERM or SIGINT; `--hash-password` makes `ui.passwordHash`. */
import { FailsafeError } from '../../core/errors.js';
import type { CommandContext, CommonOptions } from '../context.js';
import type { Io } from '../output.js';
import { untilSignal } from './daemon.js';

interface UiCommandOptions extends CommonOptions {
  listen?: string;
  insecureListen?: boolean;
  hashPassword?: boolean;
}

/** The first line of standard input: the password, never an argument (which `ps` shows). */
async function readPassword(io: Io): Promise<string> {
  if (!io.stdin) throw new FailsafeError('E_USAGE', 'give the password on standard input');
  let text = '';
  for await (const chunk of io.stdin) text += chunk.toString();
  return text.split(/\r?\n/)[0] ?? '';
}

export function registerUi({ command, open, print, warn, io }: CommandContext): void {
  command('ui', 'serve the web dashboard (overview, snapshots, backup, restore) on 127.0.0.1 until SIGTERM or SIGINT')
    .option('--listen <host:port>', 'the address to listen on (default: ui.listen in the YAML, else 127.0.0.1:8740)')
    .option('--insecure-listen', 'allow an address other than loopback over plain HTTP, without ui.tls (the login is still required)')
    .option('--hash-password', 'read a password on standard input and print its hash for ui.passwordHash in the YAML, then exit')
    .action(async (options: UiCommandOptions) => {
      if (options.hashPassword) {
        const { hashPassword } = await import('../../ui/password.js');
        const hash = await hashPassword(await readPassword(io));
        print({ passwordHash: hash }, () => `${hash}\n`);
        return;
      }
      const failsafe = await open(options);
      try {
        const { startUi, uiSecurity } = await import('../../ui/server.js');
        const config = failsafe.config.config.ui;
        const listen = options.listen ?? config?.listen;
        const ui = await startUi(failsafe, { ...(listen ? { listen } : {}), ...uiSecurity(config), insecureListen: options.insecureListen === true, warn });
        const { stopped } = untilSignal();
        // The token is in the fragment: a browser never sends it to the server or in a Referer, and it stays out of logs.
        const address = `${ui.url}#token=${ui.token}`;
        print({ url: ui.url, token: ui.token, address }, () => `dashboard: ${address}\n(open it in a browser on this machine; Ctrl-C stops)\n`);
        await stopped;
        await ui.close();
      } finally {
        await failsafe.close();
      }
    });
}
