/**
 * The dashboard's password, as an alternative to the token printed at each
 * start: only its scrypt hash is in the YAML (`ui.passwordHash`), made by
 * `failsafe ui --hash-password`. scrypt is node's own and memory-hard; the
 * cost is stored with the hash so that it can be raised later.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { FailsafeError } from '../core/errors.js';
import { PASSWORD_HASH_PATTERN } from '../core/config/schema.js';

const COST = { log2N: 15, r: 8, p: 1 };
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scrypt(password, salt, KEY_BYTES, options, (err, key) => (err ? fail(err) : done(key))));
}

const optionsOf = (log2N: number, r: number, p: number): ScryptOptions => ({ N: 2 ** log2N, r, p, maxmem: 256 * 2 ** log2N * r + 1024 * 1024 });

export async function hashPassword(password: string): Promise<string> {
  if (password.length < 12) throw new FailsafeError('E_USAGE', 'the password is too short: use at least 12 characters');
  const salt = randomBytes(16);
  const key = await derive(password, salt, optionsOf(COST.log2N, COST.r, COST.p));
  return ['scrypt', COST.log2N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function checkPassword(password: string, hash: string): Promise<boolean> {
  if (!PASSWORD_HASH_PATTERN.test(hash)) return false;
  const [, log2N, r, p, salt, expected] = hash.split('$');
  const key = await derive(password, Buffer.from(salt!, 'base64url'), optionsOf(Number(log2N), Number(r), Number(p)));
  return timingSafeEqual(key, Buffer.from(expected!, 'base64url'));
}
