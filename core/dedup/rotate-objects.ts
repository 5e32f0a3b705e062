/**
 * One object of a deduplicating repository moved to a new key set, in the
 * two steps of core/dedup/rotate.ts: `add` seals its key for the new set
 * beside the old slots (both sets open it), `strip` keeps only the new
 * set's slots. A pack keeps every byte up to its sealed header (chunk
 * offsets in the index stay right); a snapshot object keeps its sealed body
 * and references, and is signed again by the configuration's signing key.
 * Each returns the new bytes, or undefined when the object needs nothing.
 */
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import { encodeSigningKey, type Signer } from '../crypto/signing.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import { decodePackHeader, decodePackTrailer, withTrailerSlots } from '../pack/format.js';
import type { SlotMatcher } from './rotate-slots.js';
import { decodeSnapshotBodyV2, reslotSnapshotV2, snapshotSignerV2, snapshotSlotsV2 } from './snapshot.js';

export interface RotationKeys {
  /** Rings that open existing objects: the configuration's (with an identity), then the old secrets. */
  openWith: KeyRing[];
  matcher: SlotMatcher;
  writeOnly: boolean;
  signer?: Signer;
  /** Signing keys whose objects may be signed again by `signer` (the trusted ones, and the signer's own). */
  trusted: Uint8Array[];
}

/** The run key from the first ring that opens `slots`; E_WRONG_KEY (the first ring's reason) when none does. */
export function openFirst(rings: KeyRing[], slots: KeySlot[]): Uint8Array {
  let first: unknown;
  for (const ring of rings) {
    try {
      return ring.open(slots);
    } catch (err) {
      if (!isFailsafeError(err, 'E_WRONG_KEY')) throw err;
      first ??= err;
    }
  }
  throw first ?? new FailsafeError('E_KEY_MISSING', 'no key to open this object with');
}

/** A pack whose trailer lacks the new set: its run key (opened, and proved on its header) sealed for the new set beside the old slots. */
export function addToPack(pack: Buffer, what: string, keys: RotationKeys): Buffer | undefined {
  const trailer = decodePackTrailer(pack, pack.length, what);
  if (keys.matcher.covers(trailer.slots)) return undefined;
  const runKey = openFirst(keys.openWith, trailer.slots);
  const cipher = new SecretstreamCipher(runKey);
  const sealedHeader = (bytes: Buffer, at: { offset: number; length: number }): Buffer => bytes.subarray(at.offset, at.offset + at.length);
  const entries = decodePackHeader(sealedHeader(pack, trailer.header), trailer, cipher, what).length;
  const rotated = withTrailerSlots(pack, [...keys.matcher.seal(runKey, keys.writeOnly), ...trailer.slots], what);
  // Proves the new pack reads as the old one did before it replaces it.
  const check = decodePackTrailer(rotated, rotated.length, what);
  if (decodePackHeader(sealedHeader(rotated, check.header), check, cipher, what).length !== entries)
    throw new FailsafeError('E_CORRUPT', `${what}: rotated pack differs`);
  return rotated;
}

/** A pack's slots of the old set removed; E_WRONG_KEY when the new set is not in it yet (the add step did not reach it). */
export function stripPack(pack: Buffer, what: string, keys: RotationKeys): Buffer | undefined {
  const { slots } = decodePackTrailer(pack, pack.length, what);
  if (keys.matcher.settled(slots)) return undefined;
  if (!keys.matcher.covers(slots)) throw notAdded(what);
  return withTrailerSlots(pack, keys.matcher.ours(slots), what);
}

/** The trailer's slots alone, from a pack's last bytes: whether a pack needs anything is known without downloading it. */
export function trailerSlots(tail: Buffer, packLength: number, what: string): KeySlot[] {
  return decodePackTrailer(tail, packLength, what).slots;
}

/** A snapshot object lacking the new set: its run key (opened, and proved on its body) sealed for the new set beside the old slots; signed again. */
export async function addToSnapshot(bytes: Buffer, what: string, keys: RotationKeys): Promise<Buffer | undefined> {
  const { slots } = snapshotSlotsV2(bytes, what);
  if (keys.matcher.covers(slots)) return undefined;
  await checkSigner(bytes, what, keys);
  const runKey = openFirst(keys.openWith, slots);
  const open = (): SecretstreamCipher => new SecretstreamCipher(runKey);
  decodeSnapshotBodyV2(bytes, open, what);
  const rotated = reslotSnapshotV2(bytes, what, [...keys.matcher.seal(runKey, keys.writeOnly), ...slots], keys.signer);
  await snapshotSignerV2(rotated, what);
  decodeSnapshotBodyV2(rotated, open, what);
  return rotated;
}

/** A snapshot object's old slots removed, and signed by the configuration's signing key if another key signed it. */
export async function stripSnapshot(bytes: Buffer, what: string, keys: RotationKeys): Promise<Buffer | undefined> {
  const { slots } = snapshotSlotsV2(bytes, what);
  const signedBy = await checkSigner(bytes, what, keys);
  const resign = signedBy !== undefined && (!keys.signer || !Buffer.from(signedBy).equals(Buffer.from(keys.signer.publicKey)));
  if (keys.matcher.settled(slots) && !resign) return undefined;
  if (!keys.matcher.covers(slots)) throw notAdded(what);
  const rotated = reslotSnapshotV2(bytes, what, keys.matcher.ours(slots), keys.signer);
  await snapshotSignerV2(rotated, what);
  return rotated;
}

/**
 * The object's valid signer, when it may be signed again: by the signing key
 * itself or one the configuration trusts. Signing what another key signed
 * would vouch for a snapshot anyone with write access could have forged.
 */
async function checkSigner(bytes: Buffer, what: string, keys: RotationKeys): Promise<Uint8Array | undefined> {
  const signedBy = await snapshotSignerV2(bytes, what);
  if (signedBy === undefined) return undefined;
  if (!keys.signer) throw new FailsafeError('E_KEY_MISSING', `${what} is signed: re-wrapping it needs a signing key (signing.keyFile)`);
  const known = [keys.signer.publicKey, ...keys.trusted].some((key) => Buffer.from(key).equals(Buffer.from(signedBy)));
  if (!known)
    throw new FailsafeError('E_UNTRUSTED', `${what} is signed by ${encodeSigningKey(signedBy)}, which signing.trust does not list: it is not signed again`, {
      object: what.slice(what.indexOf(':') + 1),
    });
  return signedBy;
}

const notAdded = (what: string): FailsafeError =>
  new FailsafeError(
    'E_WRONG_KEY',
    `${what} is not sealed for the new keys yet: run keys rotate with the old key (--old-key-file, --old-passphrase-env, --identity)`,
  );
