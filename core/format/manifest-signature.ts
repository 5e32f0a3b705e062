/**
 * A manifest's signature (docs/format.md, "Signed manifests"): a signed
 * manifest's header names the key (`signature`), and the object ends with the
 * 64-byte Ed25519 signature over every byte before it. The signature is
 * checked against the key the header names; whether that key is trusted is
 * the reader's policy (core/repository/snapshots.ts).
 */
import { encodeSigningKey, parseSigningKey, sign, SIGNATURE_BYTES, verifySignature, type Signer } from '../crypto/signing.js';
import { getSodium } from '../crypto/sodium.js';
import { FailsafeError } from '../errors.js';
import { objectOf } from './manifest-schema.js';

/** What a signature covers is named, so that it never verifies for another kind of object. */
const SIGNED_AS = 'failsafe/v1/manifest';

/** The header member that announces a signature by `signer`; nothing without one. */
export function signatureField(signer: Signer | undefined): { signature?: { alg: 'ed25519'; publicKey: string } } {
  return signer ? { signature: { alg: 'ed25519', publicKey: encodeSigningKey(signer.publicKey) } } : {};
}

/** The object with the signature appended, when there is a signer (the header already says so). */
export function signed(unsigned: Buffer, signer: Signer | undefined): Buffer {
  return signer ? Buffer.concat([unsigned, sign(signer, SIGNED_AS, unsigned)]) : unsigned;
}

/**
 * A signed manifest's signature, checked against the key its header names:
 * resolves with the object without it and with that key, or, unsigned, with
 * the object as it is.
 */
export async function checkSignature(
  bytes: Buffer,
  header: { signature?: { publicKey: string } },
  headerEnd: number,
  what: string,
): Promise<{ unsigned: Buffer; signedBy?: Uint8Array }> {
  if (!header.signature) return { unsigned: bytes };
  const object = objectOf(what);
  if (bytes.length < headerEnd + SIGNATURE_BYTES) throw new FailsafeError('E_CORRUPT', `${what}: the signature its header announces is missing`, { object });
  const unsigned = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  let signedBy: Uint8Array;
  try {
    signedBy = parseSigningKey(header.signature.publicKey);
  } catch (err) {
    throw new FailsafeError('E_CORRUPT', `${what}: the signing key its header names is malformed`, { cause: err, object });
  }
  if (!verifySignature(await getSodium(), SIGNED_AS, unsigned, bytes.subarray(unsigned.length), signedBy)) {
    throw new FailsafeError('E_CHECKSUM', `${what}: its signature does not verify (altered after it was signed)`, { object });
  }
  return { unsigned, signedBy };
}
