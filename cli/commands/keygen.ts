/** `failsafe keygen`: a new random key file, with --asymmetric a private identity, with --signing a signing key; the public halves printed. */
import { resolve } from 'node:path';
import { FailsafeError } from '../../core/errors.js';
import type { CommandContext, CommonOptions } from '../context.js';

interface KeygenOptions extends CommonOptions {
  out?: string;
  ifMissing?: boolean;
  asymmetric?: boolean;
  signing?: boolean;
  passphraseEnv?: string;
}

export function registerKeygen(context: CommandContext): void {
  context
    .command('keygen', 'write a new random key file (mode 0600) for `encryption: { keyFile }`, or with --asymmetric an identity')
    .option('--out <file>', 'where to write the key (default failsafe.key, or failsafe.identity with --asymmetric)')
    .option('--if-missing', 'do nothing when the file already exists')
    .option('--asymmetric', 'write a private identity and print its public key, for `encryption: { recipients }`')
    .option('--signing', 'write a signing key (for signing.keyFile) and print its public key (for signing.trust)')
    .option('--passphrase-env <var>', 'with --asymmetric: protect the identity with the passphrase in this variable')
    .action((options: KeygenOptions) => keygen(context, options));
}

async function keygen(context: CommandContext, options: KeygenOptions): Promise<void> {
  const { print } = context;
  if (options.signing && (options.asymmetric || options.passphraseEnv !== undefined)) throw new FailsafeError('E_USAGE', '--signing goes alone');
  const path = resolve(options.out ?? (options.asymmetric ? 'failsafe.identity' : options.signing ? 'failsafe.signing-key' : 'failsafe.key'));
  const { exists } = await import('../../core/restore/swap.js');
  if (options.ifMissing && (await exists(path))) {
    print({ keyFile: path, created: false }, () => `${path} exists; kept it\n`);
    return;
  }
  if (options.passphraseEnv !== undefined && !options.asymmetric) throw new FailsafeError('E_USAGE', '--passphrase-env goes with --asymmetric');
  if (options.asymmetric) return writeIdentity(context, path, options.passphraseEnv);
  if (options.signing) return writeSigningKey(context, path);
  const { writeNewKeyFile } = await import('../../core/crypto/keys.js');
  await writeNewKeyFile(path);
  print({ keyFile: path, created: true }, () => `wrote a new key to ${path}; keep a copy somewhere safe: without it the backups cannot be read\n`);
}

async function writeIdentity({ io, print }: CommandContext, path: string, passphraseEnv: string | undefined): Promise<void> {
  const passphrase = passphraseEnv === undefined ? undefined : io.env[passphraseEnv];
  if (passphraseEnv !== undefined && !passphrase) throw new FailsafeError('E_KEY_MISSING', `variable ${passphraseEnv} is not set or empty`);
  const { writeNewIdentity } = await import('../../core/crypto/identity.js');
  const publicKey = await writeNewIdentity(path, passphrase);
  print(
    { identity: path, publicKey, protected: passphrase !== undefined, created: true },
    () =>
      `wrote a new identity to ${path}; keep it off the backup host and keep a copy somewhere safe\npublic key (for encryption.recipients):\n${publicKey}\n`,
  );
}

async function writeSigningKey({ print }: CommandContext, path: string): Promise<void> {
  const { writeNewSigningKey } = await import('../../core/crypto/signing.js');
  const publicKey = await writeNewSigningKey(path);
  print(
    { signingKey: path, publicKey, created: true },
    () => `wrote a new signing key to ${path}; only the hosts that back up need it\npublic key (for signing.trust on the hosts that restore):\n${publicKey}\n`,
  );
}
