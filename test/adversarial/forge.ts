/**
 * Forging snapshots as an attacker with write access to a target would:
 * written from docs/format.md alone (magic, header length, header JSON,
 * gzip body; one uncompressed, unencrypted segment holding a tar stream),
 * not through Failsafe's writer, so that anything the format can carry can
 * be forged, including what the writer would never produce.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';
import { treeHash } from '../helpers/tree.js';

export const JOB = 'app';
export const ID = '20260101T000000Z-abcdef';

/** One entry: its manifest fields, and how its tar header should read when that differs (`tar`). */
export interface ForgedEntry {
  source?: string;
  path: string;
  type?: string;
  body?: Buffer;
  linkTarget?: string;
  /** Overrides for the tar header: another name, or a type the writer never makes (`link`, `character-device`, `fifo`). */
  tar?: Partial<Header>;
}

// The forged JSON is whatever a test makes of it: missing fields, wrong types, anything.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Forgery {
  entries: ForgedEntry[];
  /** The snapshot id (default ID). */
  id?: string;
  /** Source names, in order (default: every entry's source, `data` when none). */
  sources?: string[];
  /** Changes to the manifest JSON before it is written. */
  body?: (manifest: Json) => void;
  /** Changes to the header JSON, after the body's checksum is in it. */
  header?: (header: Json) => void;
  /** The gzip body to store instead of the manifest's own (a bomb). */
  rawBody?: Buffer;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** One tar entry's bytes (header, PAX header when needed, body, padding), without the end-of-archive blocks. */
async function tarEntry(headers: Header, body: Buffer): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  pack.entry(headers, body);
  pack.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024);
}

/** Writes the forged snapshot of job `app` into a local target folder; returns the manifest's storage key. */
export async function forgeSnapshot(target: string, forgery: Forgery): Promise<string> {
  const mtime = new Date(Date.UTC(2026, 0, 1));
  const id = forgery.id ?? ID;
  const parts: Buffer[] = [];
  const entries: Json[] = [];
  let offset = 0;
  for (const e of forgery.entries) {
    const source = e.source ?? 'data';
    const type = e.type ?? 'file';
    const body = type === 'file' ? (e.body ?? Buffer.from('forged')) : Buffer.alloc(0);
    const headers = {
      name: `${source}/${e.path}${type === 'directory' ? '/' : ''}`,
      type: type === 'symlink' || type === 'directory' || type === 'file' ? type : 'file',
      size: body.length,
      mode: type === 'directory' ? 0o755 : 0o644,
      mtime,
      ...(e.linkTarget === undefined ? {} : { linkname: e.linkTarget }),
      ...e.tar,
    } as Header;
    const bytes = await tarEntry(headers, body);
    entries.push({
      source,
      path: e.path,
      type,
      size: body.length,
      mode: headers.mode,
      mtime: mtime.toISOString(),
      ...(type === 'file' ? { sha256: sha256(body) } : {}),
      ...(e.linkTarget === undefined ? {} : { linkTarget: e.linkTarget }),
      segment: 0,
      offset,
    });
    parts.push(bytes);
    offset += bytes.length;
  }
  const plain = Buffer.concat([...parts, Buffer.alloc(1024)]);
  const segment = `data/${JOB}/${id}/00000000`;
  await mkdir(join(target, 'data', JOB, id), { recursive: true });
  await writeFile(join(target, segment), plain);
  const names = forgery.sources ?? [...new Set(entries.map((e: Json) => e.source as string))];
  const manifest: Json = {
    format: 1,
    id,
    job: JOB,
    createdAt: mtime.toISOString(),
    tool: 'forged',
    compression: { algorithm: 'none', level: 0 },
    cipher: 'none',
    segmentSize: 1 << 20,
    tarBytes: plain.length,
    sources: (names.length > 0 ? names : ['data']).map((name) => ({
      name,
      type: 'directory',
      entries: entries.filter((e: Json) => e.source === name).length,
      bytes: 0,
    })),
    segments: [{ index: 0, key: segment, storedSize: plain.length, sha256: sha256(plain), plainSize: plain.length }],
    entries,
  };
  forgery.body?.(manifest);
  const body = forgery.rawBody ?? gzipSync(Buffer.from(JSON.stringify(manifest)));
  const header: Json = {
    format: 1,
    id,
    job: JOB,
    createdAt: manifest.createdAt,
    tool: 'forged',
    stats: { files: entries.filter((e: Json) => e.type === 'file').length, bytes: 0, storedBytes: plain.length, segments: 1 },
    encryption: { cipher: 'none', bodySha256: sha256(body) },
  };
  forgery.header?.(header);
  const key = `manifests/${JOB}/${id}`;
  await mkdir(join(target, 'manifests', JOB), { recursive: true });
  await writeFile(join(target, key), envelope(Buffer.from(JSON.stringify(header)), body));
  return key;
}

/** magic "FSMANIF1", u32 BE header length, header, body (docs/format.md, "The manifest object"). */
export function envelope(header: Buffer, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([Buffer.from('FSMANIF1', 'latin1'), length, header, body]);
}

/** A digest of everything in `box` but `except` (the destination): what a hostile restore must leave as it was. */
export async function outsideHash(box: string, except: string): Promise<string> {
  const names = (await readdir(box)).filter((n) => n !== except).sort();
  const digests = await Promise.all(names.map(async (n) => `${n}:${await treeHash(join(box, n))}`));
  return digests.join('\n');
}
