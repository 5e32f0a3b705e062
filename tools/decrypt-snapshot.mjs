#!/usr/bin/env node
/**
 * Decrypts and unpacks one Failsafe snapshot from a local target, using only
 * libsodium (libsodium-wrappers-sumo) and Node's built-ins (and, for zstd
 * segments on Node before 22.15, the `zstd` command). It exists so that
 * backups stay readable if Failsafe disappears; it follows docs/format.md and
 * shares no code with Failsafe on purpose.
 *
 *   node decrypt-snapshot.mjs --target DIR --job JOB [--snapshot ID|latest] --out DIR
 *        [--passphrase-env VAR | --key-file FILE | --identity FILE [--identity-passphrase-env VAR]]
 *
 * Memory stays bounded by one segment: segments are decrypted one at a time
 * and the tar stream is unpacked as it arrives.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
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
  },
});

function fail(message) {
  process.stderr.write(`decrypt-snapshot: ${message}\n`);
  process.exit(1);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));

function pwhash(passphrase, kdf) {
  if (kdf.alg !== 'argon2id13' || kdf.memlimit > 1024 ** 3 || kdf.opslimit > 20) fail('refusing unreasonable Argon2id parameters');
  return sodium.crypto_pwhash(32, passphrase, unb64(kdf.salt), kdf.opslimit, kdf.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
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

/** The data key from the first key slot our secret opens (docs/format.md, "Keys"). */
function openDataKey(slots) {
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
  fail(`no key slot opens with the given secret (slots: ${slots.map((s) => s.type).join(', ')})`);
}

function readManifest(manifestPath) {
  const bytes = readFileSync(manifestPath);
  if (bytes.subarray(0, 8).toString('latin1') !== 'FSMANIF1') fail(`${manifestPath} is not a Failsafe manifest`);
  const headerEnd = 12 + bytes.readUInt32BE(8);
  const header = JSON.parse(bytes.subarray(12, headerEnd).toString('utf8'));
  if (header.format !== 1) fail(`format ${header.format} is not the version 1 this script reads`);
  let body = bytes.subarray(headerEnd);
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
  let compressed = stored;
  if (manifest.cipher !== 'none') {
    const context = `failsafe/v1/${manifest.id}/${record.index}`;
    const headerBytes = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    const piece = 65536 + sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(stored.subarray(0, headerBytes), segmentKey);
    const parts = [];
    let final = false;
    for (let at = headerBytes; at < stored.length; at += piece) {
      if (final) fail(`segment ${record.index}: data after the final chunk`);
      const result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, stored.subarray(at, at + piece), context);
      if (!result) fail(`segment ${record.index}: authentication failed`);
      parts.push(result.message);
      final = result.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    }
    if (!final) fail(`segment ${record.index}: truncated`);
    compressed = Buffer.concat(parts);
  }
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
      utimesSync(this.safePath(header.name), header.mtime, header.mtime);
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
        const record = records.subarray(space + 1, length - 1).toString('utf8');
        const eq = record.indexOf('=');
        this.pax[record.slice(0, eq)] = record.slice(eq + 1);
        records = records.subarray(length);
      }
    }
    this.pad = (512 - (header.size % 512)) % 512;
    this.entry = undefined;
  }

  /** Refuses absolute paths, `..`, and writing through a symlink (ours or anyone's). */
  safePath(name) {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (isAbsolute(name) || parts.includes('..') || parts.length === 0) fail(`refusing unsafe path in archive: ${name}`);
    let at = this.root;
    for (const part of parts.slice(0, -1)) {
      at = join(at, part);
      try {
        if (lstatSync(at).isSymbolicLink()) fail(`refusing to write through symlink ${at}`);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    }
    return join(this.root, ...parts);
  }

  create(header) {
    const path = this.safePath(header.name);
    const parent = path.slice(0, path.lastIndexOf('/'));
    mkdirSync(parent, { recursive: true });
    this.count++;
    if (header.type === '5') mkdirSync(path, { recursive: true, mode: header.mode });
    else if (header.type === '2') symlinkSync(header.linkname, path);
    else if (header.type === '0' || header.type === '\0') {
      this.entry.fd = openSync(path, 'wx', header.mode);
      this.entry.hash = createHash('sha256');
    } else fail(`unsupported tar entry type "${header.type}" for ${header.name}`);
  }
}

await sodium.ready;
if (!args.target || !args.job || !args.out)
  fail('usage: --target DIR --job JOB [--snapshot ID|latest] --out DIR [--passphrase-env VAR | --key-file FILE | --identity FILE]');
const manifests = join(args.target, 'manifests', args.job);
const ids = readdirSync(manifests)
  .filter((name) => !name.startsWith('.'))
  .sort();
const id = args.snapshot === 'latest' ? ids.at(-1) : ids.find((name) => name === args.snapshot || name.startsWith(args.snapshot));
if (!id) fail(`no snapshot "${args.snapshot}" for job ${args.job}`);

const { manifest, segmentKey } = readManifest(join(manifests, id));
mkdirSync(args.out, { recursive: true });
const checksums = new Map(manifest.entries.filter((e) => e.type === 'file' && e.sha256).map((e) => [`${e.source}/${e.path}`, e.sha256]));
const untar = new Untar(args.out, checksums);
for (const record of [...manifest.segments].sort((a, b) => a.index - b.index)) {
  untar.push(openSegment(readFileSync(join(args.target, record.key)), manifest, segmentKey, record));
}
// Directory mtimes are left as unpacked; file modes and mtimes are restored.
process.stdout.write(`unpacked snapshot ${manifest.id} of ${manifest.job}: ${untar.count} entries into ${args.out}\n`);
