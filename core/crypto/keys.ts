/**
 * Each snapshot has a random 32-byte data key. The data key is wrapped once
 * per secret the deployment holds (a passphrase through Argon2id, a key file
 * directly, with XChaCha20-Poly1305) or sealed for each recipient's public key
 * (crypto_box_seal) into "key slots" stored in the manifest header; any one
 * secret (for a recipient: its identity) opens the snapshot.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { errnoOf, FailsafeError, fromCreateError } from '../errors.js';
import { argon2id } from './argon2.js';
import { b64, KDF_LIMITS, kdfLimitsProblem, unb64, type KdfStrength } from './kdf.js';
import { recipientKeyId, type Identity } from './identity.js';
import { getSodium, type Sodium } from './sodium.js';

export type KeySlot =
  | {
      type: 'passphrase';
      kdf: { alg: 'argon2id13'; salt: string; opslimit: number; memlimit: number };
      nonce: string;
      wrapped: string;
    }
  | { type: 'keyfile'; keyId: string; nonce: string; wrapped: string }
  | { type: 'recipient'; keyId: string; sealed: string };

export interface KeySecrets {
  passphrase?: string;
  /** The 32 bytes of a key file. */
  keyFileKey?: Uint8Array;
  /** X25519 public keys new snapshots are sealed for. */
  recipients?: Uint8Array[];
  /** Private keys that open recipient slots (never needed to write a backup). */
  identities?: Identity[];
  /** The Argon2id limits of new passphrase slots (`moderate` by default; `interactive` for small devices). */
  kdf?: KdfStrength;
}

const SLOT_NEEDS: Record<KeySlot['type'], string> = {
  passphrase: 'the passphrase',
  keyfile: 'a key file',
  recipient: 'an identity (--identity FILE)',
};

const SLOT_AD = 'failsafe/v1/key-slot';
const KEY_BYTES = 32;

export class KeyRing {
  readonly #sodium: Sodium;
  readonly #secrets: KeySecrets;
  /** Derived passphrase keys by salt: one Argon2id run per salt per process. */
  readonly #derived = new Map<string, Uint8Array>();
  #sealSalt: Uint8Array | undefined;

  private constructor(sodium: Sodium, secrets: KeySecrets) {
    this.#sodium = sodium;
    this.#secrets = secrets;
  }

  static async create(secrets: KeySecrets): Promise<KeyRing> {
    const none = secrets.passphrase === undefined && secrets.keyFileKey === undefined && !secrets.recipients?.length && !secrets.identities?.length;
    if (none) throw new FailsafeError('E_KEY_MISSING', 'encryption needs a passphrase, a key file or recipients');
    if (secrets.passphrase === '') throw new FailsafeError('E_KEY_MISSING', 'the passphrase is empty');
    return new KeyRing(await getSodium(), secrets);
  }

  newDataKey(): Uint8Array {
    return this.#sodium.randombytes_buf(KEY_BYTES);
  }

  /** Wraps `dataKey` for every secret this ring holds. */
  seal(dataKey: Uint8Array): KeySlot[] {
    const s = this.#sodium;
    const slots: KeySlot[] = [];
    if (this.#secrets.passphrase !== undefined) {
      this.#sealSalt ??= s.randombytes_buf(s.crypto_pwhash_SALTBYTES);
      const kdf = { alg: 'argon2id13' as const, salt: b64(this.#sealSalt), ...this.#sealLimits() };
      slots.push({ type: 'passphrase', kdf, ...this.#wrap(dataKey, this.#passphraseKey(kdf)) });
    }
    if (this.#secrets.keyFileKey !== undefined) {
      slots.push({ type: 'keyfile', keyId: keyIdOf(s, this.#secrets.keyFileKey), ...this.#wrap(dataKey, this.#secrets.keyFileKey) });
    }
    for (const recipient of this.#secrets.recipients ?? []) {
      slots.push({ type: 'recipient', keyId: recipientKeyId(s, recipient), sealed: b64(s.crypto_box_seal(dataKey, recipient)) });
    }
    if (slots.length === 0)
      throw new FailsafeError(
        'E_KEY_MISSING',
        'nothing to seal a snapshot for: an identity only opens snapshots; configure recipients, a passphrase or a key file',
      );
    return slots;
  }

  /**
   * Whether what this ring seals opens as `slots` do: one of our recipients has a slot there (compared by key
   * id, since a host with public keys only can open nothing), or a secret of ours opens one.
   */
  accepts(slots: KeySlot[]): boolean {
    const ours = new Set((this.#secrets.recipients ?? []).map((recipient) => recipientKeyId(this.#sodium, recipient)));
    if (slots.some((slot) => slot.type === 'recipient' && ours.has(slot.keyId))) return true;
    try {
      const { slot } = this.#openSlot(slots);
      // Sealing with the salt just derived spares a second Argon2id run; each data key still gets its own nonce.
      const limits = this.#sealLimits();
      if (slot.type === 'passphrase' && slot.kdf.opslimit === limits.opslimit && slot.kdf.memlimit === limits.memlimit) this.#sealSalt ??= unb64(slot.kdf.salt);
      return true;
    } catch (err) {
      if (err instanceof FailsafeError && err.code === 'E_WRONG_KEY') return false;
      throw err;
    }
  }

  /** Whether this ring holds a secret that opens slots at all; with recipients only (a backup host) it does not. */
  opensAny(): boolean {
    const { passphrase, keyFileKey, identities } = this.#secrets;
    return passphrase !== undefined || keyFileKey !== undefined || (identities?.length ?? 0) > 0;
  }

  /** What this ring seals for, for messages: `passphrase, key file and recipients`. */
  describe(): string {
    const kinds = [
      ...(this.#secrets.passphrase === undefined ? [] : ['passphrase']),
      ...(this.#secrets.keyFileKey === undefined ? [] : ['key file']),
      ...(this.#secrets.recipients?.length ? ['recipients'] : []),
    ];
    return kinds.length > 1 ? `${kinds.slice(0, -1).join(', ')} and ${kinds.at(-1)}` : (kinds[0] ?? 'keys');
  }

  /** Unwraps the data key from the first slot a secret of ours opens; E_WRONG_KEY when none does. */
  open(slots: KeySlot[]): Uint8Array {
    return this.#openSlot(slots).key;
  }

  #openSlot(slots: KeySlot[]): { key: Uint8Array; slot: KeySlot } {
    const tried: string[] = [];
    for (const slot of slots) {
      if (slot.type === 'recipient') {
        const identities = this.#secrets.identities ?? [];
        if (identities.length > 0) tried.push('identity');
        for (const identity of identities) {
          const key = this.#unseal(slot, identity);
          if (key !== undefined) return { key: checkedKeyId(slot, recipientKeyId(this.#sodium, identity.publicKey), key), slot };
        }
        continue;
      }
      let kek: Uint8Array | undefined;
      if (slot.type === 'passphrase' && this.#secrets.passphrase !== undefined) kek = this.#passphraseKey(slot.kdf);
      if (slot.type === 'keyfile' && this.#secrets.keyFileKey !== undefined) kek = this.#secrets.keyFileKey;
      if (kek === undefined) continue;
      tried.push(slot.type);
      const key = this.#unwrap(slot, kek);
      if (key !== undefined) return { key: slot.type === 'keyfile' ? checkedKeyId(slot, keyIdOf(this.#sodium, kek), key) : key, slot };
    }
    if (tried.length === 0) {
      const needs = [...new Set(slots.map((slot) => SLOT_NEEDS[slot.type] ?? slot.type))].join(' or ');
      throw new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data: this snapshot opens with ${needs || 'a key'}, which is not configured`);
    }
    throw new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data (tried the ${[...new Set(tried)].join(' and ')})`);
  }

  #sealLimits(): { opslimit: number; memlimit: number } {
    return KDF_LIMITS[this.#secrets.kdf ?? 'moderate'];
  }

  #passphraseKey(kdf: { salt: string; opslimit: number; memlimit: number }): Uint8Array {
    const id = `${kdf.salt}:${kdf.opslimit}:${kdf.memlimit}`;
    let key = this.#derived.get(id);
    if (key === undefined) {
      // Bound what a forged header can make us spend, before anything is allocated.
      const problem = kdfLimitsProblem(kdf);
      if (problem) throw new FailsafeError('E_CORRUPT', `key slot asks for ${problem}`);
      key = argon2id(KEY_BYTES, this.#secrets.passphrase ?? '', unb64(kdf.salt), kdf.opslimit, kdf.memlimit);
      this.#derived.set(id, key);
    }
    return key;
  }

  #wrap(dataKey: Uint8Array, kek: Uint8Array): { nonce: string; wrapped: string } {
    const s = this.#sodium;
    const nonce = s.randombytes_buf(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const wrapped = s.crypto_aead_xchacha20poly1305_ietf_encrypt(dataKey, SLOT_AD, null, nonce, kek);
    return { nonce: b64(nonce), wrapped: b64(wrapped) };
  }

  #unseal(slot: Extract<KeySlot, { type: 'recipient' }>, identity: Identity): Uint8Array | undefined {
    try {
      const key = this.#sodium.crypto_box_seal_open(unb64(slot.sealed), identity.publicKey, identity.secretKey);
      return key.length === KEY_BYTES ? key : undefined;
    } catch {
      return undefined;
    }
  }

  #unwrap(slot: Extract<KeySlot, { nonce: string }>, kek: Uint8Array): Uint8Array | undefined {
    try {
      return this.#sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, unb64(slot.wrapped), SLOT_AD, unb64(slot.nonce), kek);
    } catch {
      return undefined;
    }
  }
}

/** A slot's key id is not part of what it seals: one that names another key than the one that opened it is damage. */
function checkedKeyId(slot: { keyId: string }, opener: string, key: Uint8Array): Uint8Array {
  if (slot.keyId !== opener) throw new FailsafeError('E_CORRUPT', `a key slot names key ${slot.keyId} but opens with key ${opener}`);
  return key;
}

function keyIdOf(sodium: Sodium, key: Uint8Array): string {
  return Buffer.from(sodium.crypto_generichash(8, key, 'failsafe-key-id')).toString('hex');
}

/** Reads a key file: 32 raw bytes, or their base64 on one line. */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new FailsafeError('E_KEY_MISSING', `cannot read key file ${path}: ${errnoOf(err) ?? err}`, { cause: err });
  }
  if (raw.length === KEY_BYTES) return new Uint8Array(raw);
  const decoded = Buffer.from(raw.toString('utf8').trim(), 'base64');
  if (decoded.length === KEY_BYTES && /^[A-Za-z0-9+/]+=*$/.test(raw.toString('utf8').trim())) return new Uint8Array(decoded);
  throw new FailsafeError('E_INVALID_KEY', `key file ${path} must hold 32 bytes (raw or base64), found ${raw.length} bytes`);
}

/** Writes a new random key file with mode 0600; refuses to overwrite one. */
export async function writeNewKeyFile(path: string): Promise<void> {
  const sodium = await getSodium();
  try {
    await writeFile(path, `${b64(sodium.randombytes_buf(KEY_BYTES))}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw fromCreateError(err, path, 'a key');
  }
}
