/**
 * A manifest's sources alone: what a page shows as a snapshot's top level
 * before the whole manifest is decoded (the dashboard's tree of a
 * 100,000-file snapshot, whose full decode takes seconds on a loaded Pi).
 *
 * The body is authenticated whole first, exactly as for a full decode (its
 * checksum or its AEAD tag, and its signature): nothing unauthenticated is
 * ever parsed. Then only its beginning is inflated, up to the end of
 * `sources`, which the writer puts before the segments and the entries
 * (encodeManifest writes the Manifest in its declared order). The segments
 * and entries are neither read nor checked here, so this answers a listing
 * of the top level only: browsing below it, verify, drill and restore decode
 * and check the whole manifest as before. A body that does not start that
 * way (no other writer exists, but one could) gives undefined: the caller
 * decodes it whole.
 */
import zlib from 'node:zlib';
import { z } from 'zod';
import { FailsafeError } from '../errors.js';
import { inflationBound, MAX_SOURCES, objectOf, parseOrCorrupt, sourceSchema } from './manifest-schema.js';
import { openManifestBody, type DecodedManifest, type ManifestOpener, type ManifestSource } from './manifest.js';

/** Compressed bytes inflated at first (a few sources' worth many times over); doubled while the sources have not ended. */
const FIRST_BYTES = 16 * 1024;
/** What follows the sources at the top level of the body's JSON. */
const SOURCES_END = ',"segments":[';

const beginning = z.object({ id: z.string(), job: z.string(), createdAt: z.string(), sources: z.array(sourceSchema).max(MAX_SOURCES) });

export interface ManifestSources extends Omit<DecodedManifest, 'manifest'> {
  sources: ManifestSource[];
}

/** The header and the sources of a manifest object, its body authenticated; undefined when the sources cannot be read before the rest. */
export async function decodeManifestSources(object: Buffer, what: string, openKey: ManifestOpener): Promise<ManifestSources | undefined> {
  const { header, body, signedBy } = await openManifestBody(object, what, openKey);
  const limit = inflationBound(body.length, header.stats);
  for (let bytes = FIRST_BYTES; ; bytes *= 2) {
    const json = topLevel(inflated(body.subarray(0, bytes), limit, what));
    // The segments came first: the sources are somewhere after them.
    if (json === null) return undefined;
    if (json !== undefined) {
      const start = parseOrCorrupt(beginning, json, what, 'manifest body');
      const sum = start.sources.reduce((total, s) => total + s.bytes, 0);
      // As a full decode checks: the body names this snapshot, and its sources add up to the header's bytes.
      if (start.id !== header.id || start.job !== header.job || Date.parse(start.createdAt) !== Date.parse(header.createdAt) || sum !== header.stats.bytes) {
        throw new FailsafeError('E_CORRUPT', `${what}: manifest body does not match its header`, { object: objectOf(what) });
      }
      return { header, sources: start.sources as ManifestSource[], ...(signedBy ? { signedBy } : {}) };
    }
    if (bytes >= body.length) return undefined;
  }
}

/** What the first bytes of the gzip body inflate to (flushed, not finished: the stream is cut), bounded as a full decode is. */
function inflated(gzipped: Buffer, limit: number, what: string): string {
  try {
    return zlib.gunzipSync(gzipped, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: limit }).toString('utf8');
  } catch (err) {
    const why = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE' ? `inflates past ${limit} bytes` : 'is unreadable';
    throw new FailsafeError('E_CORRUPT', `${what}: manifest body ${why}`, { cause: err });
  }
}

/**
 * The body's top-level fields up to its sources, parsed: the text up to the
 * first `,"segments":[` at the top level, closed. The same characters inside
 * a source's `meta` leave brackets open (a string cannot hold them
 * unescaped), so that cut does not parse and the next one is tried. Null
 * when the top level reaches its segments with no sources before them;
 * undefined when the text has not reached them yet.
 */
function topLevel(text: string): unknown {
  for (let at = text.indexOf(SOURCES_END); at !== -1; at = text.indexOf(SOURCES_END, at + 1)) {
    let json: unknown;
    try {
      json = JSON.parse(`${text.slice(0, at)}}`);
    } catch {
      continue; // Not the top level: the next one.
    }
    return json !== null && typeof json === 'object' && 'sources' in json ? json : null;
  }
  return undefined;
}
