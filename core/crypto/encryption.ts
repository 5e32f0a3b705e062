/**
 * Turns the deployment's encryption setting into the ciphers of one
 * snapshot: a fresh data key for a new snapshot, or the data key unwrapped
 * from an existing snapshot's key slots.
 */
import type { SegmentCipher } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { deriveSnapshotKeys, type ManifestHeader, type ManifestSealing } from '../format/manifest.js';
import { parseIdentity, parsePublicKey, readIdentity, type Identity } from './identity.js';
import { KeyRing, readKeyFile, type KeySecrets, type KeySlot } from './keys.js';
import { PlainCipher, SecretstreamCipher } from './segment-cipher.js';
import type { KdfStrength } from './kdf.js';
import { readSigningKey, trustPolicy, type Signer, type TrustPolicy } from './signing.js';
import { getSodium, type Sodium } from './sodium.js';

/**
 * The deployment's keys: for encryption, and for signatures — `signer` signs
 * what a backup writes, `trust` says whose signatures a reader accepts.
 */
export type Encryption = ({ mode: 'none' } | { mode: 'keys'; sodium: Sodium; keyRing: KeyRing }) & { signer?: Signer; trust?: TrustPolicy };

export interface EncryptionSettings {
  mode: 'none' | 'keys';
  passphrase?: string;
  keyFile?: string;
  /** Public keys (`failsafe-pk1-…`) new snapshots are sealed for. */
  recipients?: string[];
  /** Argon2id limits of new passphrase slots (core/crypto/kdf.ts). */
  kdf?: KdfStrength;
}

/** The signature settings: the key a backup signs with, the public keys a reader trusts (the YAML's and `--trust`'s). */
export interface SigningSettings {
  keyFile?: string;
  trust?: string[];
  allowUnsigned?: boolean;
}

/**
 * A private identity that opens recipient slots, and the passphrase protecting it if any: its file, or its
 * text held in memory only (uploaded to a dashboard session; `name` says so in errors).
 */
export type IdentitySource = ({ file: string } | { text: string; name: string }) & { passphrase?: string };

export async function createEncryption(settings: EncryptionSettings, identity?: IdentitySource, signing: SigningSettings = {}): Promise<Encryption> {
  const signatures = await signatureKeys(signing);
  if (settings.mode === 'none') return { mode: 'none', ...signatures };
  const secrets: KeySecrets = {};
  if (settings.passphrase !== undefined) secrets.passphrase = settings.passphrase;
  if (settings.kdf !== undefined) secrets.kdf = settings.kdf;
  if (settings.keyFile !== undefined) secrets.keyFileKey = await readKeyFile(settings.keyFile);
  if (settings.recipients?.length) secrets.recipients = settings.recipients.map((key) => parsePublicKey(key));
  if (identity !== undefined) secrets.identities = [await loadIdentity(identity)];
  return { mode: 'keys', sodium: await getSodium(), keyRing: await KeyRing.create(secrets), ...signatures };
}

export function loadIdentity(identity: IdentitySource): Promise<Identity> {
  return 'file' in identity ? readIdentity(identity.file, identity.passphrase) : parseIdentity(identity.text, identity.name, identity.passphrase);
}

async function signatureKeys(signing: SigningSettings): Promise<{ signer?: Signer; trust?: TrustPolicy }> {
  const signer = signing.keyFile === undefined ? undefined : await readSigningKey(signing.keyFile);
  const trust = trustPolicy(signing.trust ?? [], signing.allowUnsigned === true);
  return { ...(signer ? { signer } : {}), ...(trust ? { trust } : {}) };
}

export interface SnapshotCiphers {
  segments: SegmentCipher;
  sealing: ManifestSealing;
  /** The segment cipher's key, for the worker threads that rebuild the cipher (absent without encryption). */
  segmentKey?: Uint8Array;
}

/** Ciphers for a snapshot being written: a new random data key, wrapped for every secret. */
export function newSnapshotCiphers(encryption: Encryption): SnapshotCiphers {
  const signer = encryption.signer ? { signer: encryption.signer } : {};
  if (encryption.mode === 'none') return { segments: new PlainCipher(), sealing: { cipher: 'none', ...signer } };
  const { sodium, keyRing } = encryption;
  const dataKey = keyRing.newDataKey();
  const { segmentKey, manifestKey } = deriveSnapshotKeys(sodium, dataKey);
  return {
    segments: new SecretstreamCipher(segmentKey),
    sealing: { cipher: 'xchacha20poly1305-ietf', sodium, manifestKey, slots: keyRing.seal(dataKey), ...signer },
    segmentKey,
  };
}

/**
 * Ciphers of an interrupted snapshot being resumed: the data key is unwrapped
 * from the key slots its checkpoint kept (never a plaintext key), so new
 * segments and the manifest match the ones already stored.
 */
export function resumeSnapshotCiphers(encryption: Encryption, slots: KeySlot[] | undefined): SnapshotCiphers {
  if (encryption.mode === 'none' || slots === undefined) {
    if (encryption.mode !== 'none' || slots !== undefined)
      throw new FailsafeError('E_WRONG_KEY', 'the interrupted snapshot was written with other encryption settings');
    return newSnapshotCiphers(encryption);
  }
  const { sodium, keyRing } = encryption;
  const dataKey = keyRing.open(slots);
  const { segmentKey, manifestKey } = deriveSnapshotKeys(sodium, dataKey);
  return {
    segments: new SecretstreamCipher(segmentKey),
    sealing: { cipher: 'xchacha20poly1305-ietf', sodium, manifestKey, slots, ...(encryption.signer ? { signer: encryption.signer } : {}) },
    segmentKey,
  };
}

/** Unwraps an existing snapshot's data key from its public header. E_WRONG_KEY when no secret fits. */
export function openDataKey(encryption: Encryption, header: ManifestHeader): { sodium: Sodium; dataKey: Uint8Array } {
  if (header.encryption.cipher === 'none') {
    throw new FailsafeError('E_CORRUPT', `snapshot ${header.id} is not encrypted`);
  }
  if (encryption.mode === 'none') {
    throw new FailsafeError('E_KEY_MISSING', `snapshot ${header.id} is encrypted but the configuration says encryption: none`);
  }
  return { sodium: encryption.sodium, dataKey: encryption.keyRing.open(header.encryption.slots) };
}

/** Opens an existing snapshot's keys from its public header. E_WRONG_KEY when no secret fits. */
export function openSnapshotKeys(
  encryption: Encryption,
  header: ManifestHeader,
): { sodium: Sodium; manifestKey: Uint8Array; segments: SegmentCipher; segmentKey: Uint8Array } {
  const { sodium, dataKey } = openDataKey(encryption, header);
  const { segmentKey, manifestKey } = deriveSnapshotKeys(sodium, dataKey);
  return { sodium, manifestKey, segments: new SecretstreamCipher(segmentKey), segmentKey };
}
