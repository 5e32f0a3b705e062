/**
 * Public-key encryption: a backup host holds only X25519 public keys
 * ("recipients") and seals each snapshot's data key for them with
 * crypto_box_seal; only the holder of an identity (the private key) opens it.
 *
 * Public keys are written `failsafe-pk1-<base64url(key ‖ check)>`, where
 * check = first 4 bytes of SHA-256("failsafe-pk1" ‖ key): a typo or a
 * truncated copy fails clearly instead of sealing for a key nobody holds.
 *
 * An identity file is JSON (mode 0600): the public key, and the 32-byte secret
 * key either plain or wrapped with a key from Argon2id over a passphrase.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { errnoOf, FailsafeError, fromCreateError } from '../errors.js';
import { argon2id } from './argon2.js';
import { b64, DEFAULT_KDF, kdfLimitsProblem, unb64 } from './kdf.js';
import { getSodium, type Sodium } from './sodium.js';

export const PUBLIC_KEY_PREFIX = 'failsafe-pk1-';
const KEY_BYTES = 32;
const CHECK_BYTES = 4;
const IDENTITY_TYPE = 'failsafe-identity';
const IDENTITY_AD = 'failsafe/v1/identity';

export interface Identity {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** The on-disk identity, as documented in docs/format.md. */
export type IdentityFile = {
  type: typeof IDENTITY_TYPE;
  version: 1;
  publicKey: string;
} & ({ secretKey: string } | { kdf: { alg: 'argon2id13'; salt: string; opslimit: number; memlimit: number }; nonce: string; wrappedSecretKey: string });

/** The check bytes of a key written with `prefix` (the prefix without its dash is hashed first: a key of one kind never parses as the other). */
function checksum(key: Uint8Array, prefix: string): Buffer {
  return createHash('sha256').update(prefix.slice(0, -1)).update(key).digest().subarray(0, CHECK_BYTES);
}

/** `failsafe-pk1-…` for an encryption public key; signing keys use the same shape with their own prefix (./signing.ts). */
export function encodePublicKey(key: Uint8Array, prefix = PUBLIC_KEY_PREFIX): string {
  return `${prefix}${Buffer.concat([key, checksum(key, prefix)]).toString('base64url')}`;
}

/** Parses a public key; the message says what is wrong (prefix, length, checksum). */
export function parsePublicKey(text: string, prefix = PUBLIC_KEY_PREFIX): Uint8Array {
  const trimmed = text.trim();
  if (!trimmed.startsWith(prefix)) {
    throw new FailsafeError('E_INVALID_KEY', `a public key starts with "${prefix}" (got "${trimmed.slice(0, 16)}…")`);
  }
  const body = trimmed.slice(prefix.length);
  const raw = Buffer.from(body, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(body) || raw.length !== KEY_BYTES + CHECK_BYTES) {
    throw new FailsafeError('E_INVALID_KEY', `public key ${trimmed.slice(0, 20)}… is truncated or mangled (expected ${prefix} and 48 base64url characters)`);
  }
  const key = new Uint8Array(raw.subarray(0, KEY_BYTES));
  if (!checksum(key, prefix).equals(raw.subarray(KEY_BYTES))) {
    throw new FailsafeError('E_INVALID_KEY', `public key ${trimmed.slice(0, 20)}… has a typo (its checksum does not match)`);
  }
  return key;
}

/** Short, stable name of a public key, stored in its key slot so an identity finds its own. */
export function recipientKeyId(sodium: Sodium, publicKey: Uint8Array): string {
  return Buffer.from(sodium.crypto_generichash(16, publicKey, 'failsafe-recipient'))
    .toString('hex')
    .slice(0, 16);
}

export async function newIdentity(): Promise<Identity> {
  const sodium = await getSodium();
  const pair = sodium.crypto_box_keypair();
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

export async function identityFileText(identity: Identity, passphrase?: string): Promise<string> {
  const s = await getSodium();
  const publicKey = encodePublicKey(identity.publicKey);
  let file: IdentityFile;
  if (passphrase === undefined) {
    file = { type: IDENTITY_TYPE, version: 1, publicKey, secretKey: b64(identity.secretKey) };
  } else {
    if (passphrase === '') throw new FailsafeError('E_KEY_MISSING', 'the identity passphrase is empty');
    const salt = s.randombytes_buf(s.crypto_pwhash_SALTBYTES);
    const kek = argon2id(KEY_BYTES, passphrase, salt, DEFAULT_KDF.opslimit, DEFAULT_KDF.memlimit);
    const nonce = s.randombytes_buf(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const wrapped = s.crypto_aead_xchacha20poly1305_ietf_encrypt(identity.secretKey, `${IDENTITY_AD}/${publicKey}`, null, nonce, kek);
    const kdf = { alg: 'argon2id13' as const, salt: b64(salt), ...DEFAULT_KDF };
    file = { type: IDENTITY_TYPE, version: 1, publicKey, kdf, nonce: b64(nonce), wrappedSecretKey: b64(wrapped) };
  }
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Writes a new identity file with mode 0600; refuses to overwrite one. Returns the public key text. */
export async function writeNewIdentity(path: string, passphrase?: string): Promise<string> {
  const identity = await newIdentity();
  try {
    await writeFile(path, await identityFileText(identity, passphrase), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw fromCreateError(err, path, 'a key');
  }
  return encodePublicKey(identity.publicKey);
}

/** Reads an identity file; a protected one needs its passphrase. Checks that the secret key matches the public key. */
export async function readIdentity(path: string, passphrase?: string): Promise<Identity> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FailsafeError('E_KEY_MISSING', `cannot read identity ${path}: ${errnoOf(err) ?? err}`, { cause: err });
  }
  return parseIdentity(text, path, passphrase);
}

/** An identity file's text, held in memory (a dashboard session's upload): `path` names it in errors, which never quote the text. */
export async function parseIdentity(text: string, path: string, passphrase?: string): Promise<Identity> {
  let file: IdentityFile;
  try {
    file = JSON.parse(text) as IdentityFile;
  } catch {
    throw new FailsafeError('E_INVALID_KEY', `${path} is not a Failsafe identity file (not JSON)`);
  }
  if (file?.type !== IDENTITY_TYPE || file.version !== 1 || typeof file.publicKey !== 'string') {
    throw new FailsafeError('E_INVALID_KEY', `${path} is not a Failsafe identity file (version 1)`);
  }
  const s = await getSodium();
  const publicKey = parsePublicKey(file.publicKey);
  let secretKey: Uint8Array;
  if ('secretKey' in file) {
    secretKey = unb64(file.secretKey);
  } else {
    if (passphrase === undefined || passphrase === '') {
      throw new FailsafeError(
        'E_KEY_MISSING',
        `identity ${path} is protected by a passphrase: set FAILSAFE_IDENTITY_PASSPHRASE (or the variable named by --identity-passphrase-env)`,
      );
    }
    const { kdf } = file;
    const problem = kdfLimitsProblem(kdf);
    if (problem) throw new FailsafeError('E_INVALID_KEY', `identity ${path} asks for ${problem}`);
    const kek = argon2id(KEY_BYTES, passphrase, unb64(kdf.salt), kdf.opslimit, kdf.memlimit);
    try {
      secretKey = s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, unb64(file.wrappedSecretKey), `${IDENTITY_AD}/${file.publicKey}`, unb64(file.nonce), kek);
    } catch {
      throw new FailsafeError('E_WRONG_KEY', `wrong passphrase for identity ${path}`);
    }
  }
  if (secretKey.length !== KEY_BYTES || !Buffer.from(s.crypto_scalarmult_base(secretKey)).equals(Buffer.from(publicKey))) {
    throw new FailsafeError('E_INVALID_KEY', `identity ${path} is damaged: its secret key does not match its public key`);
  }
  return { publicKey, secretKey };
}
