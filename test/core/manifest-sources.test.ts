/**
 * A manifest's sources read before the rest of it is decoded
 * (core/format/manifest-sources.ts, Failsafe.sources): the same sources a
 * full decode gives, only after the body is authenticated, checked against
 * the header, and undefined (the caller decodes it whole) when the body does
 * not begin with them.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Failsafe } from '../../api/failsafe.js';
import { FailsafeError } from '../../core/errors.js';
import { decodeManifest } from '../../core/format/manifest.js';
import { decodeManifestSources } from '../../core/format/manifest-sources.js';
import { forgeSnapshot, type Forgery, type Json } from '../adversarial/forge.js';
import { makeDeployment, PASS } from '../helpers/cli.js';

const notEncrypted = (): Promise<never> => Promise.reject(new Error('not encrypted'));

async function forged(forgery: Forgery): Promise<{ object: Buffer; key: string }> {
  const target = await mkdtemp(join(tmpdir(), 'failsafe-sources-'));
  const key = await forgeSnapshot(target, forgery);
  return { object: await readFile(join(target, key)), key };
}

/** 2,000 files in two sources; a meta of random text long enough that the sources end past the first bytes inflated. */
const big: Forgery = {
  entries: Array.from({ length: 2000 }, (_, i) => ({ source: i % 2 ? 'data' : 'logs', path: `f${i}.txt` })),
  body: (manifest: Json) => {
    manifest.sources[1].meta = { note: Array.from({ length: 4000 }, () => Math.random().toString(36).slice(2)).join(' '), x: 1, segments: [1] };
  },
};

describe('a manifest’s sources before the rest of it', () => {
  it('are the sources a full decode gives, though they end past the first bytes inflated and a meta holds "segments"', async () => {
    const { object, key } = await forged(big);
    const early = await decodeManifestSources(object, key, notEncrypted);
    const { manifest, header } = await decodeManifest(object, key, notEncrypted);
    expect(early?.sources).toEqual(manifest.sources);
    expect(early?.sources.map((s) => s.name)).toEqual(['logs', 'data']);
    expect(early?.header).toEqual(header);
  });

  it('are read only from an authenticated body: one changed byte is E_CHECKSUM', async () => {
    const { object, key } = await forged(big);
    object[object.length - 100]! ^= 1;
    await expect(decodeManifestSources(object, key, notEncrypted)).rejects.toMatchObject({ code: 'E_CHECKSUM' });
  });

  it('must add up to the header: a header claiming other bytes, or another snapshot, is E_CORRUPT', async () => {
    for (const header of [(h: Json) => (h.stats.bytes = 1), (h: Json) => (h.id = '20260101T000000Z-000000')]) {
      const { object, key } = await forged({ ...big, header });
      const err = await decodeManifestSources(object, key, notEncrypted).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailsafeError);
      expect((err as FailsafeError).code).toBe('E_CORRUPT');
    }
  });

  it('are undefined when the body does not begin with them: the caller decodes it whole', async () => {
    const reordered = (manifest: Json): void => {
      const { sources } = manifest;
      delete manifest.sources;
      manifest.sources = sources;
    };
    const { object, key } = await forged({ ...big, body: reordered });
    expect(await decodeManifestSources(object, key, notEncrypted)).toBeUndefined();
    expect((await decodeManifest(object, key, notEncrypted)).manifest.sources).toHaveLength(2);
  });

  it('Failsafe.sources of an encrypted backup: its sources, as `ls` lists them', async () => {
    const deployment = await makeDeployment();
    const failsafe = await Failsafe.open(deployment.config, { env: { ...PASS } });
    try {
      const id = (await failsafe.backup()).snapshots[0]!.id;
      const read = await failsafe.sources(id);
      const listed = await failsafe.ls(id);
      expect(read?.snapshot.id).toBe(id);
      expect(read?.sources.map((s) => s.name).sort()).toEqual([...new Set(listed.entries.map((e) => e.source))].sort());
      expect(read?.sources.reduce((sum, s) => sum + s.entries, 0)).toBe(listed.entries.length);
    } finally {
      await failsafe.close();
    }
  });
});
