/** The options through which commands that decrypt receive a private identity, and the signing keys to trust. */
import type { Command } from 'commander';
import type { ReadingTrust } from '../api/container.js';
import type { IdentitySource } from '../core/crypto/encryption.js';

export const IDENTITY_ENV = 'FAILSAFE_IDENTITY';
export const IDENTITY_PASSPHRASE_ENV = 'FAILSAFE_IDENTITY_PASSPHRASE';

export interface IdentityOptions {
  identity?: string;
  identityPassphraseEnv?: string;
  trust?: string[];
  allowUnsigned?: boolean;
}

export function withIdentityOptions(command: Command): Command {
  return withTrustOptions(
    command
      .option('--identity <file>', `private identity for snapshots sealed for recipients (default: $${IDENTITY_ENV})`)
      .option('--identity-passphrase-env <var>', 'variable holding the passphrase of a protected identity', IDENTITY_PASSPHRASE_ENV),
  );
}

/** For every command that reads a snapshot's content: whose signatures to accept (docs/encryption.md, "Signed snapshots"). */
export function withTrustOptions(command: Command): Command {
  return command
    .option('--trust <key...>', 'trust snapshots signed by this public signing key (failsafe-sig1-…), besides signing.trust')
    .option('--allow-unsigned', 'read snapshots that are unsigned or signed by an untrusted key');
}

/** What --trust and --allow-unsigned said, if anything. */
export function trustFrom(options: IdentityOptions): ReadingTrust | undefined {
  if (!options.trust?.length && !options.allowUnsigned) return undefined;
  return { ...(options.trust?.length ? { keys: options.trust } : {}), ...(options.allowUnsigned ? { allowUnsigned: true } : {}) };
}

/** The identity named by --identity or FAILSAFE_IDENTITY, if any. */
export function identityFrom(options: IdentityOptions, env: NodeJS.ProcessEnv): IdentitySource | undefined {
  const file = options.identity ?? env[IDENTITY_ENV];
  if (file === undefined || file === '') return undefined;
  const passphrase = env[options.identityPassphraseEnv ?? IDENTITY_PASSPHRASE_ENV];
  return passphrase === undefined ? { file } : { file, passphrase };
}
