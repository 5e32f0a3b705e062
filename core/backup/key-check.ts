/**
 * A target remembers which keys it accepts through the key slots of each
 * job's newest snapshot. A backup whose key set opens none of them (a typo
 * in the passphrase, another key file) would store snapshots that the
 * deployment's real keys cannot open, so it stops before writing anything.
 * Changing keys on purpose goes through `keys rotate`, which re-wraps the
 * existing snapshots first; after it, the new key set opens the newest one.
 */
import type { Encryption } from '../crypto/encryption.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import type { ManifestHeader } from '../format/manifest.js';
import { MANIFESTS_PREFIX, parseManifestKey } from '../repository/layout.js';
import { readManifestHeader } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';
import { compareText } from '../util/order.js';

const SKIPPED = ['E_CORRUPT', 'E_CHECKSUM', 'E_UNSUPPORTED_FORMAT', 'E_NOT_FOUND'] as const;

const ROTATE_HINT =
  'nothing was written; a wrong passphrase or key file? To change keys on purpose, re-wrap the existing snapshots first: failsafe keys rotate --old-passphrase-env VAR (or --old-key-file FILE, --identity FILE)';

/** E_WRONG_KEY when, in any of `targets`, the newest readable snapshot of `job` is encrypted and `encryption` does not fit its slots. */
export async function checkKeySet(targets: Storage[], job: string, encryption: Encryption, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (encryption.mode === 'none') return;
  for (const target of targets) {
    const newest = await newestSlots(target, job, options);
    if (newest === undefined || encryption.keyRing.accepts(newest.slots)) continue;
    const what = `target "${target.targetName}"'s newest snapshot of ${job} (${newest.id})`;
    throw new FailsafeError('E_WRONG_KEY', `none of the key slots of ${what} opens with the configured ${encryption.keyRing.describe()}: ${ROTATE_HINT}`);
  }
}

/** The slots of the newest snapshot whose header reads; undefined when there is none or it is not encrypted. */
async function newestSlots(target: Storage, job: string, options: { signal?: AbortSignal }): Promise<{ id: string; slots: KeySlot[] } | undefined> {
  const ids: string[] = [];
  for await (const object of target.list(`${MANIFESTS_PREFIX}${job}/`, options)) {
    const parsed = parseManifestKey(object.key);
    if (parsed?.job === job) ids.push(parsed.id);
  }
  // Ids sort by their second; within one second only the headers' times tell, so those are all read.
  const bySecond = new Map<string, string[]>();
  for (const id of ids) {
    const second = id.split('-')[0]!;
    bySecond.set(second, [...(bySecond.get(second) ?? []), id]);
  }
  for (const second of [...bySecond.keys()].sort().reverse()) {
    const headers: ManifestHeader[] = [];
    for (const id of bySecond.get(second)!) {
      options.signal?.throwIfAborted();
      const header = await readHeader(target, job, id);
      if (header) headers.push(header);
    }
    const newest = headers.sort((a, b) => compareText(b.createdAt, a.createdAt))[0];
    if (newest) return newest.encryption.cipher === 'none' ? undefined : { id: newest.id, slots: newest.encryption.slots };
  }
  return undefined;
}

async function readHeader(target: Storage, job: string, id: string): Promise<ManifestHeader | undefined> {
  try {
    return await readManifestHeader(target, job, id);
  } catch (err) {
    // A damaged (or meanwhile pruned) manifest says nothing about the keys; verify reports damage.
    if (SKIPPED.some((code) => isFailsafeError(err, code))) return undefined;
    throw err;
  }
}
