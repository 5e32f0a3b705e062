#!/usr/bin/env node
/**
 * Decrypts and unpacks one Failsafe snapshot from a local target, using only
 * libsodium (libsodium-wrappers-sumo) and Node's built-ins (and, for zstd
 * on Node before 22.15, the `zstd` command). It exists so that backups stay
 * readable if Failsafe disappears; it follows docs/format.md (format 1) and
 * docs/format-v2.md (format 2, in decrypt-snapshot-v2.mjs) and shares no
 * code with Failsafe on purpose. A snapshot is format 2 when
 * `snapshots/<job>/<id>` exists, format 1 when `manifests/<job>/<id>` does.
 *
 *   node decrypt-snapshot.mjs --target DIR --job JOB [--snapshot ID|latest] --out DIR
 *        [--passphrase-env VAR | --key-file FILE | --identity FILE [--identity-passphrase-env VAR]]
 *        [--trust failsafe-sig1-… ...]
 *
 * A signed snapshot's signature is always checked; with --trust the snapshot
 * must be signed by one of those keys (format 1 and format 2 alike).
 *
 * Memory stays bounded by one segment: segments are decrypted one at a time
 * and the tar stream is unpacked as it arrives (format 2: by one batch of chunks).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { decodeName, fsPath } from './name-bytes.mjs';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import sodium from 'libsodium-wrappers-sumo';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    job: { type: 'string' },
    snapshot: { type: 'string', default: 'latest' },
    out: { type: 'string' },
    'passphrase-env': { type: 'string' },
    'key-file': { type: 'string' },
    identity: { type: 'string' },
    'identity-passphrase-env': { type: 'string', default: 'FAILSAFE_IDENTITY_PASSPHRASE' },
    trust: { type: 'string', multiple: true, default: [] },
  },
});

function fail(message) {
  process.stderr.write(`decrypt-snapshot: ${message}\n`);
  process.exit(1);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));

// Format 2 has a slot per pack, and every pack of one run shares its salt: one Argon2id per run, not per pack.
const derived = new Map();
function pwhash(passphrase, kdf) {
  // docs/format.md, "Keys": no fewer than 2 passes over 64 MiB, no more than 1 GiB, nor than 4 passes' worth of 1 GiB.
  const { memlimit: m, opslimit: o } = kdf;
  const MiB = 1024 * 1024;
  if (kdf.alg !== 'argon2id13' || !(m >= 64 * MiB && o >= 2 && m <= 1024 * MiB && o * m <= 4096 * MiB)) fail('refusing unreasonable Argon2id parameters');
  const id = `${passphrase}\0${kdf.salt}\0${kdf.opslimit}\0${kdf.memlimit}`;
  if (!derived.has(id)) derived.set(id, sodium.crypto_pwhash(32, passphrase, unb64(kdf.salt), kdf.opslimit, kdf.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13));
  return derived.get(id);
}

function loadIdentity(path) {
  const file = JSON.parse(readFileSync(path, 'utf8'));
  const publicKey = new Uint8Array(Buffer.from(file.publicKey.slice('failsafe-pk1-'.length), 'base64url').subarray(0, 32));
  if (file.secretKey) return { publicKey, secretKey: unb64(file.secretKey) };
  const passphrase = process.env[args['identity-passphrase-env']];
  if (!passphrase) fail(`the identity is protected: set ${args['identity-passphrase-env']}`);
  const kek = pwhash(passphrase, file.kdf);
  const secretKey = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null,
    unb64(file.wrappedSecretKey),
    `failsafe/v1/identity/${file.publicKey}`,
    unb64(file.nonce),
    kek,
  );
  return { publicKey, secretKey };
}

/**
 * The data key from the first key slot our secret opens (docs/format.md, "Keys"); `what` names the object in the
 * error. `optional`: undefined rather than failing (format 2 skips packs sealed for recipients it does not hold).
 */
function openDataKey(slots, what, optional = false) {
  const passphrase = args['passphrase-env'] ? process.env[args['passphrase-env']] : undefined;
  const keyFile = args['key-file'] ? readFileSync(args['key-file']) : undefined;
  const identity = args.identity ? loadIdentity(args.identity) : undefined;
  for (const slot of slots) {
    try {
      if (slot.type === 'recipient' && identity) return sodium.crypto_box_seal_open(unb64(slot.sealed), identity.publicKey, identity.secretKey);
      let kek;
      if (slot.type === 'passphrase' && passphrase) kek = pwhash(passphrase, slot.kdf);
      if (slot.type === 'keyfile' && keyFile) kek = keyFile.length === 32 ? new Uint8Array(keyFile) : unb64(keyFile.toString('utf8').trim());
      if (kek) return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, unb64(slot.wrapped), 'failsafe/v1/key-slot', unb64(slot.nonce), kek);
    } catch {
      // Not this slot: try the next one.
    }
  }
  if (optional) return undefined;
  fail(`${what ? `${what}: ` : ''}no key slot opens with the given secret (slots: ${slots.map((s) => s.type).join(', ')})`);
}

/** Opens bytes sealed with `crypto_secretstream_xchacha20poly1305` under `context` (docs/format.md, "A segment object"). */
function unseal(stored, key, context, what) {
  const headerBytes = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES;
  const piece = 65536 + sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
  if (stored.length < headerBytes + sodium.crypto_secretstream_xchacha20poly1305_ABYTES) fail(`${what}: truncated`);
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(stored.subarray(0, headerBytes), key);
  const parts = [];
  let final = false;
  for (let at = headerBytes; at < stored.length; at += piece) {
    if (final) fail(`${what}: data after the final chunk`);
    const result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, stored.subarray(at, at + piece), context);
    if (!result) fail(`${what}: authentication failed`);
    parts.push(result.message);
    final = result.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  }
  if (!final) fail(`${what}: truncated`);
  return Buffer.concat(parts);
}

/**
 * docs/format.md, "Signed manifests": the last 64 bytes are an Ed25519 signature over "failsafe/v1/manifest", a NUL
 * and every byte before them, by the key the header names. Returns where the signed bytes end. A format 2 snapshot
 * object is signed the same way under "failsafe/v2/snapshot-object" (docs/format-v2.md, "A snapshot object").
 */
function checkSignature(bytes, header, purpose = 'failsafe/v1/manifest') {
  if (!header.signature) {
    if (args.trust.length > 0) fail('the snapshot is not signed, and --trust asks for a signature');
    return bytes.length;
  }
  const name = header.signature.publicKey;
  const raw = Buffer.from(name.slice('failsafe-sig1-'.length), 'base64url');
  const check = createHash('sha256').update('failsafe-sig1').update(raw.subarray(0, 32)).digest().subarray(0, 4);
  if (header.signature.alg !== 'ed25519' || !name.startsWith('failsafe-sig1-') || raw.length !== 36 || !check.equals(raw.subarray(32))) {
    fail('the manifest names a malformed signing key');
  }
  const end = bytes.length - 64;
  const message = Buffer.concat([Buffer.from(`${purpose}\0`), bytes.subarray(0, end)]);
  if (!sodium.crypto_sign_verify_detached(bytes.subarray(end), message, raw.subarray(0, 32))) fail('the manifest signature does not verify');
  if (args.trust.length > 0 && !args.trust.includes(name)) fail(`the manifest is signed by ${name}, which --trust does not name`);
  return end;
}

function readManifest(manifestPath) {
  const bytes = readFileSync(manifestPath);
  if (bytes.subarray(0, 8).toString('latin1') !== 'FSMANIF1') fail(`${manifestPath} is not a Failsafe manifest`);
  const headerEnd = 12 + bytes.readUInt32BE(8);
  const header = JSON.parse(bytes.subarray(12, headerEnd).toString('utf8'));
  if (header.format !== 1) fail(`format ${header.format} is not the version 1 this script reads`);
  const end = checkSignature(bytes, header);
  let body = bytes.subarray(headerEnd, end);
  let segmentKey;
  if (header.encryption.cipher === 'none') {
    if (sha256(body) !== header.encryption.bodySha256) fail('manifest checksum mismatch');
  } else {
    const dataKey = openDataKey(header.encryption.slots);
    segmentKey = sodium.crypto_kdf_derive_from_key(32, 1, 'FSsegmnt', dataKey);
    const manifestKey = sodium.crypto_kdf_derive_from_key(32, 2, 'FSmanfst', dataKey);
    try {
      body = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, bytes.subarray(0, headerEnd), unb64(header.encryption.nonce), manifestKey);
    } catch {
      fail('the manifest failed authentication (wrong key or tampered header)');
    }
  }
  return { manifest: JSON.parse(zlib.gunzipSync(body).toString('utf8')), segmentKey };
}

/** One segment object → its plaintext slice of the tar stream (docs/format.md, "A segment object"). */
function openSegment(stored, manifest, segmentKey, record) {
  if (sha256(stored) !== record.sha256) fail(`segment ${record.index}: stored checksum mismatch`);
  const compressed = manifest.cipher === 'none' ? stored : unseal(stored, segmentKey, `failsafe/v1/${manifest.id}/${record.index}`, `segment ${record.index}`);
  const plain = decompress(manifest.compression.algorithm, compressed, record.index);
  if (plain.length !== record.plainSize) fail(`segment ${record.index}: plaintext has ${plain.length} bytes, expected ${record.plainSize}`);
  // Earlier versions recorded the plaintext's SHA-256; every file's own is checked as it is unpacked.
  if (record.plainSha256 !== undefined && sha256(plain) !== record.plainSha256) fail(`segment ${record.index}: plaintext checksum mismatch`);
  return plain;
}

function decompress(algorithm, compressed, index) {
  if (algorithm === 'none') return compressed;
  if (algorithm === 'gzip') return zlib.gunzipSync(compressed);
  if (algorithm === 'brotli') return zlib.brotliDecompressSync(compressed);
  if (algorithm !== 'zstd') fail(`segment ${index}: unknown compression ${algorithm}`);
  // node:zlib has zstd from Node 22.15; before that, the zstd command line tool (Debian package zstd) does it.
  if (typeof zlib.zstdDecompressSync === 'function') return zlib.zstdDecompressSync(compressed);
  const zstd = spawnSync('zstd', ['-d', '-q', '-c'], { input: compressed, maxBuffer: 1024 ** 3 });
  if (zstd.error) fail(`segment ${index}: zstd segments need Node 22.15+ or the zstd command (${zstd.error.message})`);
  if (zstd.status !== 0) fail(`segment ${index}: zstd: ${zstd.stderr.toString().trim()}`);
  return zstd.stdout;
}

/** A minimal streaming ustar/PAX reader that writes entries under `root`, refusing unsafe paths. */
class Untar {
  pending = Buffer.alloc(0);
  entry = undefined; // { header, remaining, fd?, pax?: Buffer[] }
  pad = 0;
  pax = {};
  ended = false;
  count = 0;

  /** `checksums`: each file's SHA-256 by its name in the tar stream (`<source>/<path>`). */
  constructor(root, checksums) {
    this.root = root;
    this.checksums = checksums;
  }

  push(data) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    while (!this.ended) {
      if (this.pad > 0) {
        const skip = Math.min(this.pad, this.pending.length);
        this.pending = this.pending.subarray(skip);
        this.pad -= skip;
        if (this.pad > 0) return;
      } else if (this.entry) {
        const take = Math.min(this.entry.remaining, this.pending.length);
        const chunk = this.pending.subarray(0, take);
        if (this.entry.fd !== undefined) {
          writeSync(this.entry.fd, chunk);
          this.entry.hash.update(chunk);
        }
        if (this.entry.pax) this.entry.pax.push(Buffer.from(chunk));
        this.pending = this.pending.subarray(take);
        this.entry.remaining -= take;
        if (this.entry.remaining > 0) return;
        this.finishEntry();
      } else {
        if (this.pending.length < 512) return;
        const block = this.pending.subarray(0, 512);
        this.pending = this.pending.subarray(512);
        if (block.every((b) => b === 0)) {
          this.ended = true;
          return;
        }
        this.startEntry(block);
      }
    }
  }

  startEntry(block) {
    const text = (from, length) =>
      block
        .subarray(from, from + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const octal = (from, length) => parseInt(text(from, length).trim() || '0', 8);
    const type = String.fromCharCode(block[156] || 48);
    const prefix = text(257, 6) === 'ustar' ? text(345, 155) : '';
    const header = {
      type,
      name: this.pax.path ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100)),
      linkname: this.pax.linkpath ?? text(157, 100),
      size: this.pax.size !== undefined ? Number(this.pax.size) : octal(124, 12),
      mode: octal(100, 8),
      mtime: this.pax.mtime !== undefined ? Number(this.pax.mtime) : octal(136, 12),
    };
    if (type !== 'x' && type !== 'g') this.pax = {};
    this.entry = { header, remaining: header.size };
    if (type === 'x' || type === 'g') this.entry.pax = [];
    else this.create(header);
    if (header.size === 0) this.finishEntry();
  }

  finishEntry() {
    const { header, fd, pax } = this.entry;
    if (fd !== undefined) {
      closeSync(fd);
      utimesSync(fsPath(safePath(this.root, header.name)), header.mtime, header.mtime);
      const expected = this.checksums.get(header.name);
      if (expected !== undefined && this.entry.hash.digest('hex') !== expected) fail(`${header.name}: checksum mismatch`);
    }
    if (pax && header.type === 'x') {
      // PAX records: "<length> <key>=<value>\n", length counting the whole record in bytes.
      let records = Buffer.concat(pax);
      while (records.length > 0) {
        const space = records.indexOf(0x20);
        const length = Number(records.subarray(0, space).toString('latin1'));
        if (!(length > space + 1)) fail('malformed PAX header');
        // A name's bytes that are not UTF-8 (`hdrcharset=BINARY`) are kept as name-bytes.mjs says.
        const record = decodeName(records.subarray(space + 1, length - 1));
        const eq = record.indexOf('=');
        this.pax[record.slice(0, eq)] = record.slice(eq + 1);
        records = records.subarray(length);
      }
    }
    this.pad = (512 - (header.size % 512)) % 512;
    this.entry = undefined;
  }

  create(header) {
    const path = safePath(this.root, header.name);
    const parent = path.slice(0, path.lastIndexOf('/'));
    mkdirSync(fsPath(parent), { recursive: true });
    this.count++;
    if (header.type === '5') mkdirSync(fsPath(path), { recursive: true, mode: header.mode });
    else if (header.type === '2') symlinkSync(fsPath(header.linkname), fsPath(path));
    else if (header.type === '0' || header.type === '\0') {
      this.entry.fd = openSync(fsPath(path), 'wx', header.mode);
      this.entry.hash = createHash('sha256');
    } else fail(`unsupported tar entry type "${header.type}" for ${header.name}`);
  }
}

/** `name` under `root`, refusing absolute paths, `..`, and writing through a symlink (ours or anyone's). */
function safePath(root, name) {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (isAbsolute(name) || parts.includes('..') || parts.length === 0) fail(`refusing unsafe path in archive: ${name}`);
  let at = root;
  for (const part of parts.slice(0, -1)) {
    at = join(at, part);
    try {
      if (lstatSync(fsPath(at)).isSymbolicLink()) fail(`refusing to write through symlink ${at}`);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return join(root, ...parts);
}

/** The snapshot's ids of both formats for `job`, oldest first (ids sort by time). */
function snapshotIds(job) {
  const ids = [];
  for (const folder of ['manifests', 'snapshots']) {
    try {
      ids.push(...readdirSync(join(args.target, folder, job)).filter((name) => !name.startsWith('.')));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return [...new Set(ids)].sort();
}

/**
 * A format 2 snapshot object's JSON: the whole object, or, signed, all but its last 64 bytes (only whitespace may
 * follow a JSON value, so a signature never parses with it). A `signature` member must match which of the two it is.
 */
function snapshotJson(bytes, what) {
  for (const [end, signed] of [
    [bytes.length, false],
    [bytes.length - 64, true],
  ]) {
    let value;
    try {
      value = JSON.parse(bytes.subarray(0, Math.max(0, end)).toString('utf8'));
    } catch {
      continue;
    }
    if ((value?.signature !== undefined) !== signed) fail(`${what}: ${signed ? 'no signature member' : 'the signature it announces is missing'}`);
    return value;
  }
  return fail(`${what}: not JSON`);
}

/** The newest snapshot: ids sort by their second only, so within the newest second the headers' times decide. */
function newest(job, ids) {
  const second = (name) => name.split('-')[0];
  const last = ids.filter((name) => second(name) === second(ids.at(-1) ?? ''));
  const createdAt = (name) => {
    const v2 = join(args.target, 'snapshots', job, name);
    if (existsSync(v2)) return snapshotJson(readFileSync(v2), v2).createdAt ?? '';
    const bytes = readFileSync(join(args.target, 'manifests', job, name));
    return JSON.parse(bytes.subarray(12, 12 + bytes.readUInt32BE(8)).toString('utf8')).createdAt ?? '';
  };
  return last
    .map((name) => [createdAt(name), name])
    .sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y))
    .at(-1)?.[1];
}

await sodium.ready;
if (!args.target || !args.job || !args.out)
  fail('usage: --target DIR --job JOB [--snapshot ID|latest] --out DIR [--passphrase-env VAR | --key-file FILE | --identity FILE]');
const ids = snapshotIds(args.job);
const id = args.snapshot === 'latest' ? newest(args.job, ids) : ids.find((name) => name === args.snapshot || name.startsWith(args.snapshot));
if (!id) fail(`no snapshot "${args.snapshot}" for job ${args.job}`);
if (existsSync(join(args.target, 'snapshots', args.job, id))) {
  const { restoreSnapshotV2 } = await import('./decrypt-snapshot-v2.mjs');
  let count;
  try {
    const tools = { fail, openDataKey, unseal, safePath, snapshotJson, checkSignature, fsPath };
    count = restoreSnapshotV2({ target: args.target, job: args.job, id, out: args.out }, tools);
  } catch (err) {
    // Checks fail by name; anything else (a file already in the output folder, a full disk) is reported in one line too.
    fail(err.message);
  }
  process.stdout.write(`unpacked snapshot ${id} of ${args.job}: ${count} entries into ${args.out}\n`);
  process.exit(0);
}

const { manifest, segmentKey } = readManifest(join(args.target, 'manifests', args.job, id));
mkdirSync(args.out, { recursive: true });
const checksums = new Map(manifest.entries.filter((e) => e.type === 'file' && e.sha256).map((e) => [`${e.source}/${e.path}`, e.sha256]));
const untar = new Untar(args.out, checksums);
for (const record of [...manifest.segments].sort((a, b) => a.index - b.index)) {
  untar.push(openSegment(readFileSync(join(args.target, record.key)), manifest, segmentKey, record));
}
// Directory mtimes are left as unpacked; file modes and mtimes are restored.
process.stdout.write(`unpacked snapshot ${manifest.id} of ${manifest.job}: ${untar.count} entries into ${args.out}\n`);
