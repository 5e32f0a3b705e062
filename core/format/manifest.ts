/**
 * The manifest describes a snapshot completely. It is stored as an envelope:
 *
 *   "FSMANIF1"  8 bytes magic
 *   u32 BE      length H of the header
 *   H bytes     header: UTF-8 JSON, public (job, dates, sizes, key slots)
 *   rest        body: gzip(JSON manifest), encrypted with XChaCha20-Poly1305
 *               (nonce in the header, AD = magic + length + header) unless
 *               encryption is none, in which case the header holds its SHA-256.
 *
 * The public header lets `list` work without any key; the body holds file names and must not leak. A signed manifest's
 * header says so (`signature`) and the object ends with 64 more bytes: the writer's Ed25519 signature over everything before them (../crypto/signing.ts).
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { EntryType } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { SIGNATURE_BYTES, type Signer } from '../crypto/signing.js';
import type { Sodium } from '../crypto/sodium.js';
import { checkSignature, signatureField, signed } from './manifest-signature.js';
import { FailsafeError } from '../errors.js';
import { FORMAT_VERSION } from '../repository/layout.js';
import { headerSchema, inflateOptions, MAX_HEADER_BYTES, objectOf, parseOrCorrupt } from './manifest-schema.js';
import { parseManifestBody } from './manifest-entries.js';

const MAGIC = Buffer.from('FSMANIF1', 'latin1');
const PREFIX_BYTES = MAGIC.length + 4;
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip) as (buffer: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

export interface SnapshotStats {
  files: number;
  /** Sum of the sizes of the files. */
  bytes: number;
  /** Bytes stored in the target (segments, not counting the manifest). */
  storedBytes: number;
  segments: number;
}

export interface ManifestHeader {
  format: number;
  id: string;
  job: string;
  createdAt: string;
  tool: string;
  stats: SnapshotStats;
  /** Labels such as `pre-restore` (a safety snapshot taken by a restore); absent when none. */
  tags?: string[];
  /** How many warnings the sources gave at backup (a config file that does not parse): absent when none. `status` warns of it. */
  warnings?: number;
  /** How long the backup run took, in milliseconds, until its manifest was written; absent in snapshots of earlier versions. */
  durationMs?: number;
  /** Present when the object ends with the writer's signature: by whom (`failsafe-sig1-…`). */
  signature?: { alg: 'ed25519'; publicKey: string };
  encryption: { cipher: 'none'; bodySha256: string } | { cipher: 'xchacha20poly1305-ietf'; nonce: string; slots: KeySlot[] };
}

export interface SegmentRecord {
  index: number;
  key: string;
  /** Size and SHA-256 of the stored (compressed, encrypted) object. */
  storedSize: number;
  sha256: string;
  /** Size of the segment's plaintext (its slice of the tar stream). */
  plainSize: number;
  /** The plaintext's SHA-256, in snapshots of earlier versions only: each file's own SHA-256 checks the same bytes. */
  plainSha256?: string;
}

export interface ManifestEntry {
  source: string;
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  mtime: string;
  linkTarget?: string;
  /** Owner and group ids, when the source recorded them. */
  uid?: number;
  gid?: number;
  /** SHA-256 of a file's content. */
  sha256?: string;
  /** A file that is a hard link to the earlier file entry at this path of the same source (SourceEntry.hardLink). */
  hardLink?: string;
  /** A file with holes: restored sparse (SourceEntry.sparse). */
  sparse?: boolean;
  /** Segment holding the entry's tar header, and the header's offset in that segment's plaintext. */
  segment: number;
  offset: number;
}

export interface ManifestSource {
  name: string;
  type: string;
  entries: number;
  bytes: number;
  meta?: Record<string, unknown>;
  warnings?: string[];
}

export interface Manifest {
  format: number;
  id: string;
  job: string;
  createdAt: string;
  tool: string;
  /** `zstd`, `gzip`, `brotli`, `none`, or the name of a codec the writer registered (core/codec/stages.ts). */
  compression: { algorithm: string; level: number };
  /** The stored objects' checksum when it is not SHA-256 (a registered implementation; core/codec/stages.ts). */
  checksum?: string;
  cipher: string;
  segmentSize: number;
  /** Bytes of the whole tar stream (the sum of segment plaintext sizes). */
  tarBytes: number;
  sources: ManifestSource[];
  segments: SegmentRecord[];
  entries: ManifestEntry[];
}

/** Keys derived from a snapshot's data key, one per use, with crypto_kdf. */
export function deriveSnapshotKeys(sodium: Sodium, dataKey: Uint8Array): { segmentKey: Uint8Array; manifestKey: Uint8Array } {
  return {
    segmentKey: sodium.crypto_kdf_derive_from_key(32, 1, 'FSsegmnt', dataKey),
    manifestKey: sodium.crypto_kdf_derive_from_key(32, 2, 'FSmanfst', dataKey),
  };
}

/** How a manifest is sealed, and by whom it is signed when the deployment has a signing key. */
export type ManifestSealing = ({ cipher: 'none' } | { cipher: 'xchacha20poly1305-ietf'; sodium: Sodium; manifestKey: Uint8Array; slots: KeySlot[] }) & {
  signer?: Signer;
};

export async function encodeManifest(
  manifest: Manifest,
  stats: SnapshotStats,
  sealing: ManifestSealing,
  labels: { tags?: string[]; warnings?: number; durationMs?: number } = {},
): Promise<Buffer> {
  const body = await gzip(Buffer.from(JSON.stringify(manifest), 'utf8'));
  const base = {
    format: FORMAT_VERSION,
    ...{ id: manifest.id, job: manifest.job, createdAt: manifest.createdAt, tool: manifest.tool, stats, ...labels },
    ...signatureField(sealing.signer),
  };
  if (sealing.cipher === 'none') {
    const header: ManifestHeader = { ...base, encryption: { cipher: 'none', bodySha256: sha256(body) } };
    return signed(Buffer.concat([prefixed(header), body]), sealing.signer);
  }
  const { sodium } = sealing;
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const header: ManifestHeader = {
    ...base,
    encryption: { cipher: 'xchacha20poly1305-ietf', nonce: Buffer.from(nonce).toString('base64'), slots: sealing.slots },
  };
  const head = prefixed(header);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(body, head, null, nonce, sealing.manifestKey);
  return signed(Buffer.concat([head, sealed]), sealing.signer);
}

/** Parses and validates the public header from the first bytes of a manifest object (at least `headerBytesNeeded`). */
export function decodeManifestHeader(bytes: Buffer, what: string): { header: ManifestHeader; headerEnd: number } {
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new FailsafeError('E_CORRUPT', `${what} is not a Failsafe manifest`);
  }
  const headerEnd = headerLengthOf(bytes, what)!;
  if (bytes.length < headerEnd) throw new FailsafeError('E_CORRUPT', `${what}: manifest header is truncated`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.subarray(PREFIX_BYTES, headerEnd).toString('utf8'));
  } catch (err) {
    throw new FailsafeError('E_CORRUPT', `${what}: manifest header is not valid JSON`, { cause: err });
  }
  // The format first: a later format may change any other field, and says so with its own code.
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'number' && format !== FORMAT_VERSION) {
    throw new FailsafeError('E_UNSUPPORTED_FORMAT', `${what}: format ${String(format)} is not supported (this Failsafe reads ${FORMAT_VERSION})`);
  }
  return { header: parseOrCorrupt(headerSchema, json, what, 'manifest header') as ManifestHeader, headerEnd };
}

/**
 * Bytes of the header prefix to fetch to learn H: callers read this much, then the rest if needed.
 * A header longer than MAX_HEADER_BYTES is refused here, before anyone fetches it.
 */
export function headerLengthOf(prefix: Buffer, what: string): number | undefined {
  if (prefix.length < PREFIX_BYTES) return undefined;
  const length = prefix.readUInt32BE(MAGIC.length);
  if (length > MAX_HEADER_BYTES) throw new FailsafeError('E_CORRUPT', `${what}: manifest header claims ${length} bytes (at most ${MAX_HEADER_BYTES})`);
  return PREFIX_BYTES + length;
}

export type ManifestOpener = (header: ManifestHeader) => Promise<{ sodium: Sodium; manifestKey: Uint8Array }>;

export interface DecodedManifest {
  header: ManifestHeader;
  manifest: Manifest;
  /** The public key whose valid signature the object carries; absent when unsigned. */
  signedBy?: Uint8Array;
}

/** The header and the authenticated gzip body (its signature checked): decodeManifest's first half, with its errors. */
export async function openManifestBody(object: Buffer, what: string, openKey: ManifestOpener): Promise<Omit<DecodedManifest, 'manifest'> & { body: Buffer }> {
  const { header, headerEnd } = decodeManifestHeader(object, what);
  const { unsigned: bytes, signedBy } = await checkSignature(object, header, headerEnd, what);
  let body = bytes.subarray(headerEnd);
  if (header.encryption.cipher === 'none') {
    if (sha256(body) !== header.encryption.bodySha256) throw new FailsafeError('E_CHECKSUM', `${what}: manifest checksum mismatch`);
  } else {
    const { sodium, manifestKey } = await openKey(header);
    try {
      const nonce = Buffer.from(header.encryption.nonce, 'base64');
      body = Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, bytes.subarray(0, headerEnd), nonce, manifestKey));
    } catch (err) {
      throw new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data: ${what} failed authentication`, { cause: err });
    }
  }
  return { header, body, ...(signedBy ? { signedBy } : {}) };
}

/** Decodes and authenticates a whole manifest object. Wrong key → E_WRONG_KEY; altered bytes → E_CHECKSUM / E_WRONG_KEY. */
export async function decodeManifest(object: Buffer, what: string, openKey: ManifestOpener): Promise<DecodedManifest> {
  const { header, body, signedBy } = await openManifestBody(object, what, openKey);
  // Inflated no further than its header's counts justify: a gzip bomb stops at the bound, not at the memory's end.
  const inflate = inflateOptions(body, header.stats);
  let json: unknown;
  try {
    json = JSON.parse((await gunzip(body, inflate)).toString('utf8'));
  } catch (err) {
    const why = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE' ? `inflates past ${inflate.maxOutputLength} bytes` : 'is unreadable';
    throw new FailsafeError('E_CORRUPT', `${what}: manifest body ${why}`, { cause: err });
  }
  const manifest = parseManifestBody(json, what) as Manifest;
  matchHeader(header, manifest, what);
  return { header, manifest, ...(signedBy ? { signedBy } : {}) };
}

/**
 * The public header against the body it describes. Encrypted, the header is
 * authenticated with the body anyway; with `encryption: none` its checksum
 * covers the body alone, so a header whose date, counts or snapshot were
 * changed (to make an old snapshot `latest`, say) is caught here. Tags and
 * storedBytes are in the header only: nothing can check them (docs/security.md).
 */
function matchHeader(header: ManifestHeader, manifest: Manifest, what: string): void {
  const files = manifest.entries.filter((e) => e.type === 'file').length;
  const bytes = manifest.sources.reduce((sum, s) => sum + s.bytes, 0);
  const differs =
    manifest.id !== header.id || manifest.job !== header.job
      ? 'snapshot'
      : Date.parse(manifest.createdAt) !== Date.parse(header.createdAt)
        ? 'date'
        : header.stats.files !== files || header.stats.bytes !== bytes || header.stats.segments !== manifest.segments.length
          ? 'counts'
          : header.warnings !== undefined && header.warnings !== manifest.sources.reduce((sum, s) => sum + (s.warnings?.length ?? 0), 0)
            ? 'warnings'
            : undefined;
  if (differs) throw new FailsafeError('E_CORRUPT', `${what}: manifest body does not match its header (${differs})`, { object: objectOf(what) });
}

/**
 * The same manifest with new key slots: the header changes, so the body
 * (unchanged bytes) is sealed again under the same manifest key with a fresh
 * nonce. The caller has authenticated `bytes` with `manifestKey` already.
 */
export function resealManifest(object: Buffer, what: string, sodium: Sodium, manifestKey: Uint8Array, slots: KeySlot[], signer?: Signer): Buffer {
  const { header, headerEnd } = decodeManifestHeader(object, what);
  if (header.encryption.cipher === 'none') throw new FailsafeError('E_USAGE', `${what} is not encrypted; there are no keys to rotate`);
  // A signed snapshot stays signed, by this deployment's key; an unsigned one is not signed here, which would vouch for whatever it holds.
  if (header.signature && !signer) throw new FailsafeError('E_KEY_MISSING', `${what} is signed: re-wrapping it needs a signing key (signing.keyFile)`);
  const bytes = header.signature ? object.subarray(0, object.length - SIGNATURE_BYTES) : object;
  const resigned = header.signature ? signatureField(signer) : {};
  let body: Uint8Array;
  try {
    body = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      bytes.subarray(headerEnd),
      bytes.subarray(0, headerEnd),
      Buffer.from(header.encryption.nonce, 'base64'),
      manifestKey,
    );
  } catch (err) {
    throw new FailsafeError('E_WRONG_KEY', `wrong key or corrupted data: ${what} failed authentication`, { cause: err });
  }
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const head = prefixed({ ...header, ...resigned, encryption: { cipher: header.encryption.cipher, nonce: Buffer.from(nonce).toString('base64'), slots } });
  const sealed = Buffer.concat([head, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(body, head, null, nonce, manifestKey)]);
  return header.signature ? signed(sealed, signer) : sealed;
}

function prefixed(header: ManifestHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([MAGIC, length, json]);
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
