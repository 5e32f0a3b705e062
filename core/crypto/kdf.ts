/** What the key slots and identity files share: the Argon2id limits and the base64 of their fields. */
import { FailsafeError } from '../errors.js';
import { decodeBase64 } from '../util/base64.js';

const MiB = 1024 * 1024;

/**
 * libsodium's named Argon2id limits. New passphrase slots and identity files
 * use `moderate` (256 MiB, 3 passes: ~2.5–3 s of CPU on the 2-core build
 * machine, docs/security.md); `interactive` (64 MiB, 2 passes), the limits of
 * earlier versions, is for small devices that cannot spare 256 MiB, and is 4×
 * cheaper for whoever guesses passphrases offline too.
 */
export const KDF_LIMITS = {
  interactive: { opslimit: 2, memlimit: 64 * MiB },
  moderate: { opslimit: 3, memlimit: 256 * MiB },
} as const;

export type KdfStrength = keyof typeof KDF_LIMITS;

export const DEFAULT_KDF: { opslimit: number; memlimit: number } = KDF_LIMITS.moderate;

/** The most memory a slot or identity file read from outside may ask for. */
const MAX_MEMLIMIT = 1024 * MiB;
/** The most work (passes × memory) it may ask for: 1 GiB for 4 passes (libsodium's `sensitive`), ~10 s of CPU here. */
const MAX_WORK = 4 * 1024 * MiB;

/**
 * Why limits read from a key slot or an identity file are refused, or
 * undefined when they are acceptable: never below the interactive limits
 * (every slot Failsafe ever wrote has at least those; fewer would be a
 * downgrade an attacker chose), never more than 1 GiB of memory or 4 GiB
 * worth of passes over it (a forged slot must not make a reader allocate
 * gigabytes or spin for minutes).
 */
export function kdfLimitsProblem(kdf: { opslimit: number; memlimit: number }): string | undefined {
  const { opslimit, memlimit } = kdf;
  if (!Number.isSafeInteger(opslimit) || !Number.isSafeInteger(memlimit)) return 'Argon2id limits that are not whole numbers';
  const floor = KDF_LIMITS.interactive;
  if (opslimit < floor.opslimit || memlimit < floor.memlimit) return `Argon2id limits below the floor (${floor.opslimit} passes, 64 MiB)`;
  if (memlimit > MAX_MEMLIMIT || opslimit * memlimit > MAX_WORK) return 'unreasonable Argon2id limits (at most 1 GiB, and 4 passes over 1 GiB)';
  return undefined;
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Bytes of a key slot's base64 field; one that is not the canonical spelling of its bytes is damage (E_CORRUPT). */
export function unb64(text: string): Uint8Array {
  const bytes = decodeBase64(text);
  if (bytes === undefined) throw new FailsafeError('E_CORRUPT', 'a key slot holds malformed base64');
  return new Uint8Array(bytes);
}
