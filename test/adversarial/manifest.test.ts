/**
 * The manifest gate (core/format/manifest-schema.ts) on forged manifests:
 * every one is refused with an integrity code (exit 3), never a TypeError
 * (E_INTERNAL, exit 1), and never accepted.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, FailsafeError } from '../../core/errors.js';
import { decodeManifest, decodeManifestHeader } from '../../core/format/manifest.js';
import { MAX_HEADER_BYTES, MAX_INFLATION_RATIO, MAX_MANIFEST_JSON } from '../../core/format/manifest-schema.js';
import { envelope, forgeSnapshot, type Forgery, type Json } from './forge.js';

const notEncrypted = (): Promise<never> => Promise.reject(new Error('not encrypted'));

/** The error decoding the forged manifest gives (the test fails when it decodes). */
async function refusal(forgery: Forgery): Promise<FailsafeError> {
  const target = await mkdtemp(join(tmpdir(), 'failsafe-forged-'));
  const key = await forgeSnapshot(target, forgery);
  const err = await decodeManifest(await readFile(join(target, key)), `t:${key}`, notEncrypted).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FailsafeError);
  expect(ERROR_CODES[(err as FailsafeError).code]).toBe(3);
  return err as FailsafeError;
}

const file = { path: 'a.txt' };

describe('a forged manifest is refused with exit 3, never a TypeError', () => {
  it('a genuine-looking forgery decodes: the forging helper itself is sound', async () => {
    const target = await mkdtemp(join(tmpdir(), 'failsafe-forged-'));
    const key = await forgeSnapshot(target, { entries: [{ path: 'd', type: 'directory' }, { path: 'd/a.txt' }] });
    const { manifest } = await decodeManifest(await readFile(join(target, key)), key, notEncrypted);
    expect(manifest.entries.map((e) => e.path)).toEqual(['d', 'd/a.txt']);
  });

  it.each(['../outside', '..', '.', '', 'a/b', 'a\\b', 'nul\0name', '/abs'])('source name %j is not one path segment: E_CORRUPT', async (name) => {
    const err = await refusal({ entries: [{ ...file, source: name }] });
    expect(err.code).toBe('E_CORRUPT');
    expect(err.message).toMatch(/one path segment|too small/i);
    expect(err.object).toBe('manifests/app/20260101T000000Z-abcdef');
  });

  it.each(['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', 'a/', '', 'a\0b'])('entry path %j: E_UNSAFE_PATH', async (path) => {
    const err = await refusal({ entries: [{ path }] });
    expect(err.code).toBe('E_UNSAFE_PATH');
  });

  it.each(['\udc2f', 'a\udc2f..\udc2fx', '\udc00', '\ud800', 'a\udfff', '\udcc3\udca9'])(
    'entry path %j holds a surrogate that stands for no byte, or for a "/" or NUL, or for valid UTF-8: E_UNSAFE_PATH',
    async (path) => {
      const err = await refusal({ entries: [{ path }] });
      expect(err.code).toBe('E_UNSAFE_PATH');
    },
  );

  it('names that are not UTF-8 and hard links to an earlier file decode: the controls for the cases below', async () => {
    const target = await mkdtemp(join(tmpdir(), 'failsafe-forged-'));
    const entries = [{ path: 'caf\udce9' }, { path: 'back\\slash' }, { path: 'link', type: 'symlink', linkTarget: 'caf\udce9' }];
    const key = await forgeSnapshot(target, { entries, body: (m) => (m.entries[1].hardLink = 'caf\udce9') });
    const { manifest } = await decodeManifest(await readFile(join(target, key)), key, notEncrypted);
    expect(manifest.entries.map((e) => [e.path, e.hardLink ?? e.linkTarget])).toEqual([
      ['caf\udce9', undefined],
      ['back\\slash', 'caf\udce9'],
      ['link', 'caf\udce9'],
    ]);
  });

  const badLinks: [string, (m: Json) => void][] = [
    ['a hard link to a later file', (m) => (m.entries[1].hardLink = 'b.txt')],
    ['a hard link to a folder', (m) => (m.entries[1].hardLink = 'd')],
    ['a hard link to itself', (m) => (m.entries[1].hardLink = 'a.txt')],
    ['a hard link to nothing', (m) => (m.entries[2].hardLink = 'nowhere')],
    ['a folder that is a hard link', (m) => (m.entries[0].hardLink = 'a.txt')],
    ['a symlink target with a surrogate for no byte', (m) => (m.entries[3].linkTarget = '\ud800')],
  ];
  it.each(badLinks)('%s: E_CORRUPT', async (_what, change) => {
    const entries = [{ path: 'd', type: 'directory' }, { path: 'a.txt' }, { path: 'b.txt' }, { path: 'l', type: 'symlink', linkTarget: 'a.txt' }];
    const err = await refusal({ entries, body: change });
    expect(err.code).toBe('E_CORRUPT');
  });

  const broken: [string, (m: Json) => void][] = [
    ['plainSize 2^53', (m) => (m.segments[0].plainSize = 2 ** 53)],
    ['an entry of 2^53 bytes', (m) => (m.entries[0].size = 2 ** 53)],
    ['a negative offset', (m) => (m.entries[0].offset = -1)],
    ['a fractional mode', (m) => (m.entries[0].mode = 0.5)],
    ['no entries', (m) => delete m.entries],
    ['no segments', (m) => delete m.segments],
    ['no sources', (m) => delete m.sources],
    ['an entry without a path', (m) => delete m.entries[0].path],
    ['an entry without a type', (m) => delete m.entries[0].type],
    ['a hard link entry', (m) => (m.entries[0].type = 'link')],
    ['a device entry', (m) => (m.entries[0].type = 'character-device')],
    ['a date that is not one', (m) => (m.entries[0].mtime = 'yesterday')],
    ['entries as a string', (m) => (m.entries = 'many')],
    ['a segment numbered out of place', (m) => (m.segments[0].index = 7)],
    ['an entry in a segment that does not exist', (m) => (m.entries[0].segment = 1)],
    ['an entry past its segment', (m) => (m.entries[0].offset = 1e9)],
    ['an entry of no listed source', (m) => (m.entries[0].source = 'other')],
    ['a source listed twice', (m) => m.sources.push(m.sources[0])],
    ['an entry listed twice', (m) => m.entries.push(m.entries[0])],
    ['a segment size past 256 MiB', (m) => (m.segmentSize = 2 ** 40)],
    ['a body that is null', (m) => Object.keys(m).forEach((k) => delete m[k])],
  ];
  it.each(broken)('%s: E_CORRUPT', async (_what, change) => {
    const err = await refusal({ entries: [file], body: change });
    expect(err.code).toBe('E_CORRUPT');
  });

  const brokenHeaders: [string, (h: Json) => void][] = [
    ['no stats', (h) => delete h.stats],
    ['files 2^53', (h) => (h.stats.files = 2 ** 53)],
    ['no encryption', (h) => delete h.encryption],
    ['an unknown cipher', (h) => (h.encryption.cipher = 'rot13')],
    ['no format', (h) => delete h.format],
    ['a createdAt that is not a date', (h) => (h.createdAt = 'soon')],
    ['tags that are not strings', (h) => (h.tags = [1])],
  ];
  it.each(brokenHeaders)('a header with %s: E_CORRUPT', async (_what, change) => {
    const err = await refusal({ entries: [file], header: change });
    expect(err.code).toBe('E_CORRUPT');
  });

  it('a header claiming more than the limit is refused before it is read', () => {
    const bytes = envelope(Buffer.from('{}'), Buffer.alloc(0));
    bytes.writeUInt32BE(MAX_HEADER_BYTES + 1, 8);
    expect(() => decodeManifestHeader(bytes, 't:m')).toThrow(/claims/);
  });

  it('a gzip bomb stops at the bound: E_CORRUPT, with the limit named', async () => {
    // 64 MiB of spaces gzip to about 64 KiB: a thousand times, where the bound allows 64 and a floor.
    const rawBody = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    const bound = 1024 * 1024 + MAX_INFLATION_RATIO * rawBody.length + 4096 * 2;
    expect(bound).toBeLessThan(64 * 1024 * 1024);
    expect(bound).toBeLessThan(MAX_MANIFEST_JSON);
    const err = await refusal({ entries: [file], rawBody });
    expect(err.code).toBe('E_CORRUPT');
    expect(err.message).toContain(`inflates past ${bound} bytes`);
  });
});
