/**
 * A format-1 snapshot's sources, read before the rest of its manifest is
 * decoded (core/format/manifest-sources.ts): the top level of its tree for a
 * page to show at once. Authenticated and trusted as openSnapshot does;
 * what lies below the sources is left to a full open.
 */
import { openSnapshotKeys, type Encryption } from '../crypto/encryption.js';
import { FailsafeError } from '../errors.js';
import type { ManifestSource } from '../format/manifest.js';
import { decodeManifestSources } from '../format/manifest-sources.js';
import { manifestKey } from './layout.js';
import { checkTrust } from './snapshots.js';
import type { Storage } from './storage.js';

/** The sources of manifest `job`/`id`; undefined when they cannot be read apart from the rest of it. */
export async function openSnapshotSources(storage: Storage, job: string, id: string, encryption: Encryption): Promise<ManifestSource[] | undefined> {
  const key = manifestKey(job, id);
  const what = `${storage.targetName}:${key}`;
  const opened = await storage.readAgain(async () => decodeManifestSources(await storage.getBuffer(key), what, async (h) => openSnapshotKeys(encryption, h)));
  if (!opened) return undefined;
  if (opened.header.id !== id || opened.header.job !== job) {
    throw new FailsafeError('E_CORRUPT', `${what}: manifest header names snapshot ${opened.header.job}/${opened.header.id}`, { object: key });
  }
  checkTrust(encryption.trust, opened.signedBy, what);
  return opened.sources;
}
