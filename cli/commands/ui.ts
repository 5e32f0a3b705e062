/** `failsafe ui`: the web dashboard (docs/ui.md) until SIGTERM or SIGINT. */
import type { CommandContext, CommonOptions } from '../context.js';
import { untilSignal } from './daemon.js';

interface UiCommandOptions extends CommonOptions {
  listen?: string;
  insecureListen?: boolean;
}

export function registerUi({ command, open, print, warn }: CommandContext): void {
  command('ui', 'serve the web dashboard (overview, snapshots, backup, restore) on 127.0.0.1 until SIGTERM or SIGINT')
    .option('--listen <host:port>', 'the address to listen on (default: ui.listen in the YAML, else 127.0.0.1:8740)')
    .option('--insecure-listen', 'allow an address other than loopback, over plain HTTP (the login token is still required)')
    .action(async (options: UiCommandOptions) => {
      const failsafe = await open(options);
      try {
        const { startUi } = await import('../../ui/server.js');
        const listen = options.listen ?? failsafe.config.config.ui?.listen;
        const ui = await startUi(failsafe, { ...(listen ? { listen } : {}), insecureListen: options.insecureListen === true, warn });
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
