/**
 * A v2 snapshot object (`snapshots/<job>/<id>`), written last: its public
 * header (what `list` shows without a key), its body — the sources and the
 * ids of its tree's chunks — sealed under the run's key, whose slots it
 * carries, and its reference list (every chunk id it uses) sealed under the
 * index key, so that prune can mark on a host that cannot open the body
 * (docs/design/dedup.md, Prune). Untrusted when read: every field checked.
 */
import type { SegmentCipher } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { parseSigningKey, sign, SIGNATURE_BYTES, verifySignature, type Signer } from '../crypto/signing.js';
import { getSodium } from '../crypto/sodium.js';
import { FailsafeError } from '../errors.js';
import type { ManifestSource } from '../format/manifest.js';
import { signatureField } from '../format/manifest-signature.js';
import { decodeBase64 } from '../util/base64.js';

export const SNAPSHOTS_PREFIX = 'snapshots/';
const MAX_SNAPSHOT = 64 * 1024 * 1024;

export interface SnapshotStatsV2 {
  files: number;
  bytes: number;
  /** Chunks the snapshot uses, and how many of them this backup stored. */
  chunks: number;
  newChunks: number;
  /** Bytes this backup added to the repository. */
  storedBytes: number;
}

export interface SnapshotHeaderV2 {
  format: 2;
  id: string;
  job: string;
  createdAt: string;
  tags?: string[];
  /** How many warnings its sources gave at backup; absent when none. */
  warnings?: number;
  /** How long the backup run took (milliseconds); absent in snapshots of earlier versions. */
  durationMs?: number;
  stats: SnapshotStatsV2;
}

export interface SnapshotBodyV2 {
  sources: ManifestSource[];
  tree: Buffer[];
}

interface Stored extends SnapshotHeaderV2 {
  /** Present when the object ends with the writer's 64-byte Ed25519 signature over every byte before it: by whom. */
  signature?: { alg: 'ed25519'; publicKey: string };
  slots: KeySlot[];
  body: string;
  references: string;
}

export const snapshotKeyV2 = (job: string, id: string): string => `${SNAPSHOTS_PREFIX}${job}/${id}`;
const BODY = 'failsafe/v2/snapshot';
const REFERENCES = 'failsafe/v2/references';
/** What a signature covers is named: it never verifies for a format 1 manifest or anything else. */
const SIGNED_AS = 'failsafe/v2/snapshot-object';
const b64 = (ids: Buffer[]): string[] => ids.map((id) => id.toString('base64'));

export function encodeSnapshotV2(
  header: SnapshotHeaderV2,
  body: SnapshotBodyV2,
  references: Buffer[],
  run: { cipher: SegmentCipher; slots: KeySlot[] },
  indexCipher: SegmentCipher,
  signer?: Signer,
): Buffer {
  // The public fields go in sealed too: a reader with the key checks them (a re-dated or re-tagged header is refused).
  const sealed = { sources: body.sources, tree: b64(body.tree), id: header.id, public: publicFields(header) };
  const sealedBody = run.cipher.encrypt(Buffer.from(JSON.stringify(sealed)), BODY);
  const sealedRefs = indexCipher.encrypt(Buffer.from(JSON.stringify(b64(references))), REFERENCES);
  const stored: Stored = {
    ...header,
    ...signatureField(signer),
    slots: run.slots,
    body: sealedBody.toString('base64'),
    references: sealedRefs.toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(stored));
  return signer ? Buffer.concat([bytes, sign(signer, SIGNED_AS, bytes)]) : bytes;
}

const corrupt = (what: string, problem: string): FailsafeError => new FailsafeError('E_CORRUPT', `${what}: not a valid snapshot (${problem})`);

/** The JSON of an object, and the signature after it when its JSON says it is signed. */
interface Split {
  raw: Partial<Stored> | null;
  unsigned: Buffer;
  signature?: Buffer;
}

const jsonOf = (bytes: Buffer): Partial<Stored> | null | undefined => {
  try {
    return JSON.parse(bytes.toString('utf8')) as Partial<Stored> | null;
  } catch {
    return undefined;
  }
};

/**
 * A signed object is its JSON and 64 bytes of signature, which never parse as
 * JSON with it (only whitespace may follow a JSON value). An object whose JSON
 * announces a signature that is not there is refused, not read as unsigned.
 */
function split(bytes: Buffer, what: string): Split {
  const whole = jsonOf(bytes);
  if (whole !== undefined) {
    if (whole?.signature !== undefined) throw corrupt(what, 'the signature its header announces is missing');
    return { raw: whole, unsigned: bytes };
  }
  const unsigned = bytes.subarray(0, Math.max(0, bytes.length - SIGNATURE_BYTES));
  const raw = bytes.length > SIGNATURE_BYTES ? jsonOf(unsigned) : undefined;
  if (raw === undefined || raw?.signature === undefined) throw corrupt(what, 'not JSON');
  return { raw, unsigned, signature: bytes.subarray(unsigned.length) };
}

function parse(bytes: Buffer, what: string): Stored & { split: Split } {
  if (bytes.length > MAX_SNAPSHOT) throw corrupt(what, `${bytes.length} bytes`);
  const parts = split(bytes, what);
  const { raw } = parts;
  if (raw?.format !== 2) throw new FailsafeError('E_UNSUPPORTED_FORMAT', `${what}: snapshot format ${String(raw?.format)} is not known to this version`);
  const { id, job, createdAt, stats, slots, body, references, signature } = raw;
  if (typeof id !== 'string' || typeof job !== 'string' || typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)))
    throw corrupt(what, 'its id, job or time');
  if (raw.warnings !== undefined && !(Number.isSafeInteger(raw.warnings) && raw.warnings >= 0)) throw corrupt(what, 'its warnings');
  if (raw.durationMs !== undefined && !(Number.isSafeInteger(raw.durationMs) && raw.durationMs >= 0)) throw corrupt(what, 'its duration');
  if (!Array.isArray(slots) || typeof body !== 'string' || typeof references !== 'string' || typeof stats !== 'object' || stats === null)
    throw corrupt(what, 'its fields');
  if (signature !== undefined && (signature?.alg !== 'ed25519' || typeof signature.publicKey !== 'string')) throw corrupt(what, 'its signature field');
  return { ...(raw as Stored), split: parts };
}

/**
 * The key whose valid signature the object carries, or undefined when it is
 * unsigned. A signature that does not verify is E_CHECKSUM whatever the
 * reader trusts: the object was altered after it was signed.
 */
export async function snapshotSignerV2(bytes: Buffer, what: string): Promise<Uint8Array | undefined> {
  const { split: parts, signature } = parse(bytes, what);
  if (!signature || !parts.signature) return undefined;
  let publicKey: Uint8Array;
  try {
    publicKey = parseSigningKey(signature.publicKey);
  } catch (err) {
    throw new FailsafeError('E_CORRUPT', `${what}: the signing key its header names is malformed`, { cause: err });
  }
  if (!verifySignature(await getSodium(), SIGNED_AS, parts.unsigned, parts.signature, publicKey))
    throw new FailsafeError('E_CHECKSUM', `${what}: its signature does not verify (altered after it was signed)`);
  return publicKey;
}

/** The public header: needs no key. */
export function decodeSnapshotHeaderV2(bytes: Buffer, what: string): SnapshotHeaderV2 {
  const { slots: _s, body: _b, references: _r, split: _p, signature: _g, ...header } = parse(bytes, what);
  return header;
}

/**
 * The body, opened with the run key's cipher that `open` gives for its slots. With `indexCipher` the sealed
 * reference list is authenticated too: a restore does not need it, but a damaged one is refused there as well
 * (E_CORRUPT or E_WRONG_KEY), not left for the next prune to find.
 */
export function decodeSnapshotBodyV2(
  bytes: Buffer,
  open: (slots: KeySlot[]) => SegmentCipher,
  what: string,
  indexCipher?: SegmentCipher,
): SnapshotHeaderV2 & SnapshotBodyV2 {
  const stored = parse(bytes, what);
  if (indexCipher) openReferences(stored, indexCipher, what);
  const body = decodeBase64(stored.body);
  if (body === undefined) throw corrupt(what, 'its body');
  const opened = JSON.parse(open(stored.slots).decrypt(body, BODY).toString('utf8')) as {
    sources?: unknown;
    tree?: unknown;
    id?: unknown;
    public?: unknown;
  };
  if (opened.id !== stored.id) throw corrupt(what, 'its sealed id differs from its public one');
  // Snapshots written before the public fields were sealed have none: only their id is checked.
  if (opened.public !== undefined && JSON.stringify(opened.public) !== JSON.stringify(publicFields(stored)))
    throw corrupt(what, 'its public header differs from the sealed copy');
  if (!Array.isArray(opened.sources) || !Array.isArray(opened.tree)) throw corrupt(what, 'its body');
  const { slots: _s, body: _b, references: _r, split: _p, signature: _g, ...header } = stored;
  return { ...header, sources: opened.sources as ManifestSource[], tree: ids(opened.tree, what) };
}

/** Every chunk id the snapshot uses, opened with the index key (what prune marks). */
export function decodeSnapshotReferences(bytes: Buffer, indexCipher: SegmentCipher, what: string): Buffer[] {
  return ids(JSON.parse(openReferences(parse(bytes, what), indexCipher, what).toString('utf8')) as unknown, what);
}

function openReferences(stored: Stored, indexCipher: SegmentCipher, what: string): Buffer {
  const sealed = decodeBase64(stored.references);
  if (sealed === undefined) throw corrupt(what, 'its references');
  return indexCipher.decrypt(sealed, REFERENCES);
}

/** The key slots of the object's run key, and the public key that signed it (checked by snapshotSignerV2 first). */
export function snapshotSlotsV2(bytes: Buffer, what: string): { slots: KeySlot[]; signedBy?: string } {
  const { slots, signature } = parse(bytes, what);
  return { slots, ...(signature ? { signedBy: signature.publicKey } : {}) };
}

/**
 * The same object with other key slots (`keys rotate`): body and references
 * keep their bytes. A signed object is signed again by `signer`, since the
 * signature covers the slots; an unsigned one stays unsigned, as signing it
 * here would vouch for whatever it holds.
 */
export function reslotSnapshotV2(bytes: Buffer, what: string, slots: KeySlot[], signer?: Signer): Buffer {
  const { split: _p, signature, slots: _old, body, references, ...header } = parse(bytes, what);
  if (signature && !signer) throw new FailsafeError('E_KEY_MISSING', `${what} is signed: re-wrapping it needs a signing key (signing.keyFile)`);
  const resigned = signature ? signer : undefined;
  const stored: Stored = { ...header, ...signatureField(resigned), slots, body, references };
  const unsigned = Buffer.from(JSON.stringify(stored));
  return resigned ? Buffer.concat([unsigned, sign(resigned, SIGNED_AS, unsigned)]) : unsigned;
}

/** The header as sealed: the fields a reader compares, in a fixed order. */
function publicFields(header: SnapshotHeaderV2): unknown {
  const { files, bytes, chunks, newChunks, storedBytes } = header.stats;
  // Absent when none: snapshots written before warnings were counted compare as they were sealed.
  const warnings = header.warnings ? { warnings: header.warnings } : {};
  const duration = header.durationMs === undefined ? {} : { durationMs: header.durationMs };
  return {
    job: header.job,
    createdAt: header.createdAt,
    tags: header.tags ?? [],
    ...warnings,
    ...duration,
    stats: { files, bytes, chunks, newChunks, storedBytes },
  };
}

function ids(value: unknown, what: string): Buffer[] {
  if (!Array.isArray(value)) throw corrupt(what, 'a list of chunk ids');
  return value.map((v) => {
    const id = (typeof v === 'string' && decodeBase64(v)) || Buffer.alloc(0);
    if (id.length !== 32) throw corrupt(what, 'a chunk id');
    return id;
  });
}
