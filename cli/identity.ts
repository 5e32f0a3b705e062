/** The options through which commands that decrypt receive a private identity. */
import type { Command } from 'commander';
import type { IdentitySource } from '../core/crypto/encryption.js';

export const IDENTITY_ENV = 'FAILSAFE_IDENTITY';
export const IDENTITY_PASSPHRASE_ENV = 'FAILSAFE_IDENTITY_PASSPHRASE';

export interface IdentityOptions {
  identity?: string;
  identityPassphraseEnv?: string;
}

export function withIdentityOptions(command: Command): Command {
  return command
    .option('--identity <file>', `private identity for snapshots sealed for recipients (default: $${IDENTITY_ENV})`)
    .option('--identity-passphrase-env <var>', 'variable holding the passphrase of a protected identity', IDENTITY_PASSPHRASE_ENV);
}

/** The identity named by --identity or FAILSAFE_IDENTITY, if any. */
export function identityFrom(options: IdentityOptions, env: NodeJS.ProcessEnv): IdentitySource | undefined {
  const file = options.identity ?? env[IDENTITY_ENV];
  if (file === undefined || file === '') return undefined;
  const passphrase = env[options.identityPassphraseEnv ?? IDENTITY_PASSPHRASE_ENV];
  return passphrase === undefined ? { file } : { file, passphrase };
}
