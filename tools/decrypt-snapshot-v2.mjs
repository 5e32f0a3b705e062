/**
 * Format 2 (deduplicating repositories) for decrypt-snapshot.mjs, written
 * from docs/format-v2.md alone: it shares no code with Failsafe, so that
 * restoring through it proves the document suffices. Everything read from
 * the target is untrusted: every chunk is checked against its keyed id,
 * every file against its recorded size, every path against the output folder.
 *
 * Memory stays bounded by one batch of chunks (BATCH): files are written as
 * their chunks arrive.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fstatSync, futimesSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import { linkSync, symlinkSync, utimesSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import zlib from 'node:zlib';

const MAGIC = Buffer.from('FSPACK02');
/** A trailer is a few key slots; anything larger is not a pack (and must not make us read a whole object). */
const MAX_TRAILER = 64 * 1024;
/** Chunks are decompressed about this many plaintext bytes at a time: one `zstd` process per batch on Node 20, not one per chunk. */
const BATCH = 32 * 1024 * 1024;

const isSize = (value) => Number.isSafeInteger(value) && value >= 0;

/**
 * `length` bytes at `offset` of object `key` (all of it without them), or fail naming it. Opened per read: a
 * repository has more packs than a process may hold open.
 */
function readObject(target, key, fail, offset = 0, length) {
  let fd;
  try {
    fd = openSync(join(target, key), 'r');
  } catch (err) {
    fail(err.code === 'ENOENT' ? `${key} is missing` : `${key}: ${err.message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (length === undefined) length = size - offset;
    if (offset < 0 || offset + length > size) fail(`${key}: ${length} bytes at ${offset} lie past its end (${size} bytes)`);
    const bytes = Buffer.alloc(length);
    readSync(fd, bytes, 0, length, offset);
    return { bytes, size };
  } finally {
    closeSync(fd);
  }
}
const hexOf = (b64) => Buffer.from(b64, 'base64').toString('hex');

/** Restores snapshot `job`/`id` of the repository in `target` under `out`; returns how many entries. `tools`: the v1 script's helpers. */
export function restoreSnapshotV2({ target, job, id, out }, tools) {
  const { fail, openDataKey, unseal } = tools;
  const json = (bytes, what) => {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      return fail(`${what}: not JSON`);
    }
  };
  const key32 = (text, what) => {
    const key = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    return key.length === 32 ? new Uint8Array(key) : fail(`${what} is not a 32-byte key`);
  };

  // 1. The repository's keys, sealed under the master key its `config` slots wrap.
  const config = json(readObject(target, 'config', fail).bytes, 'config');
  if (config?.format !== 2) fail(`config: repository format ${config?.format} is not the version 2 this script reads`);
  if (!Array.isArray(config.slots) || typeof config.keys !== 'string') fail('config: no key slots or keys');
  const keys = json(unseal(Buffer.from(config.keys, 'base64'), openDataKey(config.slots, 'config'), 'failsafe/v2/config', 'config'), 'config keys');
  if (keys.id !== config.id) fail('config: the sealed id differs from the public one');
  const store = new ChunkStore(target, key32(keys.idKey, 'config: idKey'), key32(keys.indexKey, 'config: indexKey'), { ...tools, json });

  // 2. The snapshot's body, under its run key.
  const what = `snapshots/${job}/${id}`;
  const stored = readObject(target, what, fail).bytes;
  const snapshot = tools.snapshotJson(stored, what);
  // Signed or not as the object says; with --trust it must be signed by a trusted key.
  tools.checkSignature(stored, snapshot, 'failsafe/v2/snapshot-object');
  if (snapshot?.format !== 2) fail(`${what}: snapshot format ${snapshot?.format} is not the version 2 this script reads`);
  if (!Array.isArray(snapshot.slots) || typeof snapshot.body !== 'string') fail(`${what}: no key slots or body`);
  if (snapshot.id !== id || snapshot.job !== job) fail(`${what}: its header names ${snapshot.job}/${snapshot.id}`);
  const body = json(unseal(Buffer.from(snapshot.body, 'base64'), openDataKey(snapshot.slots, what), 'failsafe/v2/snapshot', what), what);
  if (body.id !== id || !Array.isArray(body.tree)) fail(`${what}: its sealed body does not match its header`);

  // 3. The tree's chunks, then each file's.
  const text = Buffer.concat([...store.read(body.tree, `${what}: the tree`)]).toString('utf8');
  const lines = text.split('\n');
  if (lines.pop() !== '') fail(`${what}: the tree does not end with a whole line`);
  const entries = lines.map((line, i) => checkEntry(json(Buffer.from(line), `${what}: tree line ${i + 1}`), `${what}: tree line ${i + 1}`, fail));
  mkdirSync(out, { recursive: true });
  const directories = [];
  const files = new Map(); // `<source>/<path>` → where each file was written, for the hard links that name it
  for (const entry of entries) restoreEntry(entry, out, store, tools, directories, files);
  // Deepest first, and only now: a read-only folder must still take its files, and each file written into one changes its mtime.
  for (const { path, entry } of directories.reverse()) {
    chmodSync(tools.fsPath(path), entry.mode & 0o7777);
    utimesSync(tools.fsPath(path), new Date(entry.mtime), new Date(entry.mtime));
  }
  return entries.length;
}

function checkEntry(entry, what, fail) {
  const { source, path, type, size, mode, mtime } = entry ?? {};
  if (typeof source !== 'string' || source === '' || typeof path !== 'string') fail(`${what}: no source or path`);
  if (!['file', 'directory', 'symlink'].includes(type)) fail(`${what}: unknown entry type ${type}`);
  if (!isSize(size) || !isSize(mode) || typeof mtime !== 'string' || Number.isNaN(Date.parse(mtime))) fail(`${what}: bad size, mode or time`);
  if (type === 'symlink' && typeof entry.linkTarget !== 'string') fail(`${what}: a link without a target`);
  if (type === 'file' && !Array.isArray(entry.chunks)) fail(`${what}: a file without chunks`);
  return entry;
}

/** Paths go to `fs` as bytes where a name is not UTF-8 (name-bytes.mjs); a hard link to a file written here is linked. */
function restoreEntry(entry, out, store, { fail, safePath, fsPath }, directories, files) {
  const name = `${entry.source}/${entry.path}`;
  const path = safePath(out, name);
  mkdirSync(fsPath(dirname(path)), { recursive: true });
  const mtime = new Date(entry.mtime);
  const first = entry.type === 'file' && typeof entry.hardLink === 'string' ? files.get(`${entry.source}/${entry.hardLink}`) : undefined;
  if (entry.type === 'directory') {
    mkdirSync(fsPath(path), { recursive: true, mode: 0o700 });
    // mkdir succeeds on an existing symlink to a folder; chmod would then follow it out of `out`.
    if (!lstatSync(fsPath(path)).isDirectory()) fail(`refusing to write through symlink ${path}`);
    directories.push({ path, entry });
  } else if (entry.type === 'symlink') {
    symlinkSync(fsPath(entry.linkTarget), fsPath(path));
    lutimesSync(fsPath(path), mtime, mtime);
  } else if (first !== undefined) {
    linkSync(fsPath(first), fsPath(path));
  } else {
    files.set(name, path);
    // 'wx': never through an existing file or symlink.
    const fd = openSync(fsPath(path), 'wx', 0o600);
    let written = 0;
    for (const plain of store.read(entry.chunks, name)) {
      written += plain.length;
      if (written > entry.size) fail(`${name}: more bytes than the ${entry.size} recorded`);
      writeSync(fd, plain);
    }
    if (written !== entry.size) fail(`${name}: ${written} bytes where ${entry.size} were recorded`);
    fchmodSync(fd, entry.mode & 0o7777);
    futimesSync(fd, mtime, mtime);
    closeSync(fd);
  }
}

/** Where each chunk lies (index objects, else packs' own headers), and each pack's run key and header. */
class ChunkStore {
  locations = new Map(); // id hex → { pack, offset, length }
  packs = new Map(); // pack key → { runKey, entries: Map<id hex, row> }
  scanned = false;

  constructor(target, idKey, indexKey, tools) {
    Object.assign(this, { target, idKey, tools });
    for (const name of list(join(target, 'index'), /^[0-9a-f]{64}$/)) {
      const what = `index/${name}`;
      const packs = tools.json(tools.unseal(readObject(target, what, tools.fail).bytes, indexKey, 'failsafe/v2/index', what), what);
      if (!Array.isArray(packs)) tools.fail(`${what}: not a list of packs`);
      for (const pack of packs) {
        if (!/^packs\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(pack?.key)) tools.fail(`${what}: a pack key ${pack?.key}`);
        for (const row of checkRows(pack.entries, Number.MAX_SAFE_INTEGER, `${what}: ${pack.key}`, tools.fail))
          this.locations.set(row.hex, { pack: pack.key, offset: row.offset, length: row.length });
      }
    }
  }

  /** The plaintexts of chunks `ids` (base64), in order, each checked against its id. */
  *read(ids, what) {
    let batch = [];
    let bytes = 0;
    for (const id of ids) {
      if (typeof id !== 'string' || Buffer.from(id, 'base64').length !== 32) this.tools.fail(`${what}: a chunk id is not 32 bytes`);
      const chunk = this.open(hexOf(id), what);
      batch.push(chunk);
      bytes += chunk.plainLength;
      if (bytes >= BATCH) {
        yield* this.decompress(batch);
        batch = [];
        bytes = 0;
      }
    }
    yield* this.decompress(batch);
  }

  /** A chunk's sealed bytes opened (still compressed), after checking that its index entry and its pack's header agree. */
  open(hex, what) {
    const at = this.locate(hex) ?? this.tools.fail(`${what}: chunk ${hex} is in no index object and no pack`);
    const pack = this.pack(at.pack);
    const row = pack.entries.get(hex);
    if (!row || row.offset !== at.offset || row.length !== at.length) this.tools.fail(`${at.pack}: the index and the pack disagree on chunk ${hex}`);
    const sealed = readObject(this.target, at.pack, this.tools.fail, row.offset, row.length).bytes;
    const where = `${at.pack}: chunk ${hex}`;
    return { hex, where, plainLength: row.plainLength, compressed: this.tools.unseal(sealed, pack.runKey, `failsafe/v2/chunk/${hex}`, where) };
  }

  locate(hex) {
    if (!this.locations.has(hex) && !this.scanned) {
      // A pack no index object names (a run stopped before its index) is read from its own tail.
      this.scanned = true;
      const named = new Set([...this.locations.values()].map((at) => at.pack));
      for (const folder of list(join(this.target, 'packs'), /^[0-9a-f]{2}$/))
        for (const name of list(join(this.target, 'packs', folder), /^[0-9a-f]{64}$/)) {
          const key = `packs/${folder}/${name}`;
          const pack = named.has(key) ? undefined : this.pack(key, true);
          for (const [id, row] of pack?.entries ?? []) this.locations.set(id, { pack: key, offset: row.offset, length: row.length });
        }
    }
    return this.locations.get(hex);
  }

  /** A pack's run key (from its trailer's slots) and its header. `optional`: undefined when no slot opens (packs of a write-only host). */
  pack(key, optional = false) {
    if (this.packs.has(key)) return this.packs.get(key);
    const { fail, json, openDataKey, unseal } = this.tools;
    const { size } = readObject(this.target, key, fail, 0, 0);
    const tail = readObject(this.target, key, fail, Math.max(0, size - MAX_TRAILER - 12)).bytes;
    if (tail.length < 12 || !tail.subarray(-8).equals(MAGIC)) fail(`${key}: not a pack (no FSPACK02 at its end)`);
    const trailerLength = tail.readUInt32LE(tail.length - 12);
    if (trailerLength > tail.length - 12) fail(`${key}: a trailer of ${trailerLength} bytes`);
    const trailer = json(tail.subarray(tail.length - 12 - trailerLength, tail.length - 12), `${key}: trailer`);
    const { offset, length } = trailer?.header ?? {};
    if (trailer?.format !== 2 || !Array.isArray(trailer.slots)) fail(`${key}: an unknown trailer format`);
    if (!isSize(offset) || !isSize(length) || offset + length !== size - 12 - trailerLength) fail(`${key}: its header does not end where its trailer starts`);
    const runKey = openDataKey(trailer.slots, key, optional);
    if (!runKey) return undefined;
    const sealed = readObject(this.target, key, fail, offset, length).bytes;
    const rows = checkRows(json(unseal(sealed, runKey, 'failsafe/v2/pack-header', `${key}: header`), `${key}: header`), offset, key, fail);
    const pack = { runKey, entries: new Map(rows.map((row) => [row.hex, row])) };
    this.packs.set(key, pack);
    return pack;
  }

  /** Opened chunks → plaintexts: zstd, each checked for its length and against its keyed id. */
  *decompress(chunks) {
    for (const [i, plain] of unzstd(chunks, this.tools.fail).entries()) {
      const { hex, where, plainLength } = chunks[i];
      if (plain.length !== plainLength) this.tools.fail(`${where}: ${plain.length} bytes once decompressed, the pack says ${plainLength}`);
      if (createHmac('sha256', this.idKey).update(plain).digest('hex') !== hex) this.tools.fail(`${where}: does not match its id`);
      yield plain;
    }
  }
}

/** Pack header and index rows `[id base64, kind, offset, length, plainLength]`: well formed, in order, not overlapping, within `end`. */
function checkRows(rows, end, what, fail) {
  if (!Array.isArray(rows)) fail(`${what}: not a list of chunks`);
  let at = 0;
  return rows.map((row, i) => {
    const [id, kind, offset, length, plainLength] = Array.isArray(row) ? row : [];
    const ok = typeof id === 'string' && Buffer.from(id, 'base64').length === 32 && (kind === 0 || kind === 1);
    if (!ok || !isSize(offset) || !isSize(length) || !isSize(plainLength)) fail(`${what}: chunk ${i} of its list`);
    if (offset < at || offset + length > end) fail(`${what}: chunk ${i} lies outside the data or over another`);
    at = offset + length;
    return { hex: hexOf(id), offset, length, plainLength };
  });
}

/**
 * zstd frames → their contents. node:zlib has zstd from Node 22.15; before that the `zstd` command decompresses a
 * batch of concatenated frames at once, cut apart by their recorded lengths. When a batch does not come out whole,
 * its chunks are decompressed one by one to name the culprit.
 */
function unzstd(chunks, fail) {
  const one = (chunk) => {
    try {
      if (typeof zlib.zstdDecompressSync === 'function') return zlib.zstdDecompressSync(chunk.compressed);
    } catch (err) {
      fail(`${chunk.where}: zstd: ${err.message}`);
    }
    const zstd = spawnSync('zstd', ['-d', '-q', '-c'], { input: chunk.compressed, maxBuffer: chunk.plainLength + 1 });
    if (zstd.error?.code === 'ENOENT') fail(`${chunk.where}: zstd chunks need Node 22.15+ or the zstd command (${zstd.error.message})`);
    // ENOBUFS: the frame holds more than the pack says (output is capped there).
    if (zstd.error) fail(`${chunk.where}: zstd: ${zstd.error.code === 'ENOBUFS' ? `more than the ${chunk.plainLength} bytes recorded` : zstd.error.message}`);
    if (zstd.status !== 0) fail(`${chunk.where}: zstd: ${zstd.stderr.toString().trim()}`);
    return zstd.stdout;
  };
  if (chunks.length <= 1 || typeof zlib.zstdDecompressSync === 'function') return chunks.map(one);
  const total = chunks.reduce((n, c) => n + c.plainLength, 0);
  const zstd = spawnSync('zstd', ['-d', '-q', '-c'], { input: Buffer.concat(chunks.map((c) => c.compressed)), maxBuffer: total + 1 });
  if (zstd.error?.code === 'ENOENT') fail(`zstd chunks need Node 22.15+ or the zstd command (${zstd.error.message})`);
  if (zstd.error || zstd.status !== 0 || zstd.stdout.length !== total) return chunks.map(one);
  let at = 0;
  return chunks.map((c) => zstd.stdout.subarray(at, (at += c.plainLength)));
}

/** The names in `folder` that match `pattern` (skipping a writer's temporary files); none when it does not exist. */
function list(folder, pattern) {
  try {
    return readdirSync(folder)
      .filter((name) => pattern.test(name))
      .sort();
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
}
