/**
 * Signing keys: who wrote a snapshot. Encryption says who can read one; with
 * recipients every backup host holds the public key, so anyone with it can
 * write a valid-looking snapshot. An Ed25519 signature by a key the reader
 * trusts is what tells a genuine snapshot from a forged one.
 *
 * A signing key file is JSON (mode 0600):
 *   { "type": "failsafe-signing-key", "version": 1, "publicKey": "failsafe-sig1-…", "secretKey": "<base64, 64 bytes>" }
 * The public key is written like an encryption public key (./identity.ts),
 * with its own prefix: `failsafe-sig1-<base64url(key ‖ check)>`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { errnoOf, FailsafeError, fromCreateError } from '../errors.js';
import { encodePublicKey, parsePublicKey } from './identity.js';
import { b64, unb64 } from './kdf.js';
import { getSodium, type Sodium } from './sodium.js';

export const SIGNING_KEY_PREFIX = 'failsafe-sig1-';
const FILE_TYPE = 'failsafe-signing-key';
export const SIGNATURE_BYTES = 64;

export interface Signer {
  sodium: Sodium;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** What a reader accepts: the public keys it trusts, and whether a snapshot signed by none of them may be read anyway. */
export interface TrustPolicy {
  keys: Uint8Array[];
  /** `--allow-unsigned`: read unsigned or untrusted snapshots (they are still reported as such). */
  allowUnsigned: boolean;
}

/** The policy of a reader given these public keys; none (nothing required) when it trusts no key. */
export function trustPolicy(trust: string[], allowUnsigned: boolean): TrustPolicy | undefined {
  const keys = trust.map(parseSigningKey);
  return keys.length > 0 ? { keys, allowUnsigned } : undefined;
}

export const encodeSigningKey = (key: Uint8Array): string => encodePublicKey(key, SIGNING_KEY_PREFIX);
export const parseSigningKey = (text: string): Uint8Array => parsePublicKey(text, SIGNING_KEY_PREFIX);

/** Writes a new signing key file (mode 0600, never over an existing file); resolves with its public key. */
export async function writeNewSigningKey(path: string): Promise<string> {
  const sodium = await getSodium();
  const pair = sodium.crypto_sign_keypair();
  const publicKey = encodeSigningKey(pair.publicKey);
  const file = { type: FILE_TYPE, version: 1, publicKey, secretKey: b64(pair.privateKey) };
  try {
    await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw fromCreateError(err, path, 'a key');
  }
  return publicKey;
}

/** Reads a signing key file, checking that its secret half belongs to its public half. */
export async function readSigningKey(path: string): Promise<Signer> {
  let file: { type?: unknown; version?: unknown; publicKey?: unknown; secretKey?: unknown };
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as typeof file;
  } catch (err) {
    const why = errnoOf(err) ?? 'not JSON';
    throw new FailsafeError(errnoOf(err) ? 'E_KEY_MISSING' : 'E_INVALID_KEY', `cannot read signing key ${path}: ${why}`, { cause: err });
  }
  if (file?.type !== FILE_TYPE || file.version !== 1 || typeof file.publicKey !== 'string' || typeof file.secretKey !== 'string') {
    throw new FailsafeError('E_INVALID_KEY', `${path} is not a Failsafe signing key file (version 1)`);
  }
  const sodium = await getSodium();
  const publicKey = parseSigningKey(file.publicKey);
  const secretKey = unb64(file.secretKey);
  if (secretKey.length !== sodium.crypto_sign_SECRETKEYBYTES || !Buffer.from(secretKey.subarray(32)).equals(Buffer.from(publicKey))) {
    throw new FailsafeError('E_INVALID_KEY', `${path}: its secret key does not belong to its public key`);
  }
  return { sodium, publicKey, secretKey };
}

/** The detached signature of `message` under the context `purpose` (one key signs several kinds of objects). */
export function sign(signer: Signer, purpose: string, message: Uint8Array): Uint8Array {
  return signer.sodium.crypto_sign_detached(contextual(purpose, message), signer.secretKey);
}

/** True when `signature` is `publicKey`'s over `message` under `purpose`. */
export function verifySignature(sodium: Sodium, purpose: string, message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) return false;
  return sodium.crypto_sign_verify_detached(signature, contextual(purpose, message), publicKey);
}

/** `purpose`, a NUL, then the message: a signature over one kind of object never verifies as another. */
function contextual(purpose: string, message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${purpose}\0`, 'utf8'), message]);
}
