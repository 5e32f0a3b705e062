/**
 * Whether a snapshot was signed by a key the reader trusts, read from the
 * whole object (a header alone claims, its signature proves), and the newest
 * snapshot that was: what `latest` means once signatures are required.
 */
import { decodeManifestHeader } from '../format/manifest.js';
import { checkSignature } from '../format/manifest-signature.js';
import { snapshotKeyV2, snapshotSignerV2 } from '../dedup/snapshot.js';
import { isFailsafeError } from '../errors.js';
import { isFuture, manifestKey } from './layout.js';
import type { TrustPolicy } from '../crypto/signing.js';
import type { Storage } from './storage.js';

/** `trusted`: a valid signature by a trusted key; `untrusted`: by another key; `invalid`: a signature that does not verify, or an object that does not read. */
export type SignatureState = 'trusted' | 'untrusted' | 'unsigned' | 'invalid';

interface Listed {
  id: string;
  job: string;
  createdAt: string;
  tags?: string[];
  format?: 2;
}

/** The tag of a snapshot of live data taken just before a restore replaced it. */
export const PRE_RESTORE_TAG = 'pre-restore';

export async function signatureState(storage: Storage, snapshot: Listed, keys: Uint8Array[]): Promise<SignatureState> {
  const key = snapshot.format === 2 ? snapshotKeyV2(snapshot.job, snapshot.id) : manifestKey(snapshot.job, snapshot.id);
  const what = `${storage.targetName}:${key}`;
  try {
    const bytes = await storage.getBuffer(key);
    const signedBy = snapshot.format === 2 ? await snapshotSignerV2(bytes, what) : await manifestSigner(bytes, what);
    if (signedBy === undefined) return 'unsigned';
    return keys.some((k) => Buffer.from(k).equals(Buffer.from(signedBy))) ? 'trusted' : 'untrusted';
  } catch (err) {
    // A damaged one is not trusted; reading it by id reports why.
    if (isFailsafeError(err)) return 'invalid';
    throw err;
  }
}

async function manifestSigner(bytes: Buffer, what: string): Promise<Uint8Array | undefined> {
  const { header, headerEnd } = decodeManifestHeader(bytes, what);
  return (await checkSignature(bytes, header, headerEnd, what)).signedBy;
}

/**
 * The snapshots `latest` may be, newest first: backups (not a restore's
 * safety snapshot) dated up to this host's clock.
 */
export function latestCandidates<T extends Listed>(all: T[], now: Date): T[] {
  return all.filter((s) => !s.tags?.includes(PRE_RESTORE_TAG) && !isFuture(s, now));
}

/**
 * The newest candidate for `latest` (`all` newest first); when the reader
 * requires signatures, the newest a trusted key signed. `trusted` answers
 * from states already read (list has them), else each object is read.
 */
export async function newestTrusted<T extends Listed>(
  storage: Storage,
  all: T[],
  options: { now: Date; trust?: TrustPolicy | undefined; trusted?: (s: T) => boolean | undefined },
): Promise<T | undefined> {
  const current = latestCandidates(all, options.now);
  const { trust } = options;
  if (!trust || trust.allowUnsigned) return current[0];
  for (const s of current) {
    const known = options.trusted?.(s);
    if (known ?? (await signatureState(storage, s, trust.keys)) === 'trusted') return s;
  }
  return undefined;
}
