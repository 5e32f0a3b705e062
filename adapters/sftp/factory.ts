/** The `sftp` target type, registered without loading ssh2 (core/repository/lazy-adapter.ts). */
import { defineLazyAdapter } from '../../core/repository/lazy-adapter.js';
import { warnIfInsecure } from './host-key.js';
import { sftpOptionsSchema } from './options.js';

/** Host-key warnings already given at create time, so loading the implementation does not repeat them. */
const givenWarnings = new WeakMap<object, string>();

export const sftpAdapter = defineLazyAdapter({
  type: 'sftp',
  optionsSchema: sftpOptionsSchema,
  pathOptions: ['privateKey', 'knownHosts'],
  // As SftpAdapter's; test/adapters/lazy-targets.test.ts checks they agree.
  capabilities: { rangeRead: true, persistent: true },
  optional: ['cleanupTemp'],
  // The adapter retries on a fresh connection itself (`retries`; adapters/sftp/sftp.ts says why): another layer would multiply the attempts.
  retry: false,
  check: (options, target, context) => {
    const message = warnIfInsecure(options, target, context);
    if (message !== undefined) givenWarnings.set(options, message);
  },
  load: async (options, target, context) => {
    const { SftpAdapter } = await import('./sftp.js');
    const given = givenWarnings.get(options);
    const warn = (message: string): void => {
      if (message === given) return;
      if (context) context.warn(message);
      else process.emitWarning(message, { code: 'FAILSAFE_INSECURE_HOST_KEY' });
    };
    return new SftpAdapter(options, target, { ...context, warn });
  },
});
