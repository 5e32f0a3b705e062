/**
 * A v2 repository's `config` object: its id and the keys every backup to it
 * shares — the chunker's gear key, the chunk-id key, the index key — sealed
 * under a master key that is wrapped in a slot for each of the deployment's
 * secrets (passphrase, key file, recipients), as a snapshot's data key is.
 * A write-only host (recipients only) opens it with its dedup key file, one
 * more key-file slot; the packs' run keys are sealed for the recipients
 * alone, so that host still cannot read a pack (docs/design/dedup.md, Keys).
 *
 * The first backup to a target writes it. Two hosts racing to write it
 * would each see the other's chunks as unknown, never wrongly as known: a
 * chunk id under another key matches nothing.
 */
import { randomBytes } from 'node:crypto';
import { SecretstreamCipher } from '../crypto/segment-cipher.js';
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
import { decodeBase64 } from '../util/base64.js';
import type { Storage } from '../repository/storage.js';

export const CONFIG_KEY = 'config';
const CONTEXT = 'failsafe/v2/config';
const MAX_CONFIG = 256 * 1024;

export interface RepositoryKeys {
  /** 32 hex digits: names the repository's local cache folder. */
  id: string;
  gearKey: Buffer;
  idKey: Buffer;
  indexKey: Buffer;
}

interface StoredConfig {
  format: 2;
  id: string;
  slots: KeySlot[];
  /** The keys, sealed under the master key (base64). */
  keys: string;
}

/** The repository's keys: from its `config`, or a new config written now when the target has none. */
export async function openRepositoryKeys(
  storage: Storage,
  keyRing: KeyRing,
  options: { signal?: AbortSignal } = {},
): Promise<{ keys: RepositoryKeys; created: boolean }> {
  const stored = await storage.head(CONFIG_KEY, options);
  if (stored) return { keys: readConfig(await storage.getBuffer(CONFIG_KEY, options), keyRing, `${storage.targetName}:${CONFIG_KEY}`), created: false };
  const keys: RepositoryKeys = { id: randomBytes(16).toString('hex'), gearKey: randomBytes(32), idKey: randomBytes(32), indexKey: randomBytes(32) };
  await storage.put(CONFIG_KEY, encodeConfig(keys, keyRing), options);
  return { keys, created: true };
}

/**
 * A config holding `keys`, under a fresh master key wrapped for every secret
 * of `keyRing`. `keys rotate` writes one for the new key set: the master key
 * seals nothing but these keys, so replacing it is safe, while the chunk-id
 * and gear keys must stay or no chunk already stored would match again.
 */
export function encodeConfig(keys: RepositoryKeys, keyRing: KeyRing): Buffer {
  const master = keyRing.newDataKey();
  const sealed = new SecretstreamCipher(master).encrypt(Buffer.from(JSON.stringify(encodeKeys(keys))), CONTEXT);
  const config: StoredConfig = { format: 2, id: keys.id, slots: keyRing.seal(master), keys: sealed.toString('base64') };
  return Buffer.from(JSON.stringify(config));
}

/** The key slots of a stored config (read with readConfig first: this trusts the bytes' form). */
export function configSlots(bytes: Buffer): KeySlot[] {
  return (JSON.parse(bytes.toString('utf8')) as StoredConfig).slots;
}

function encodeKeys(keys: RepositoryKeys): Record<string, string> {
  return { id: keys.id, gearKey: keys.gearKey.toString('base64'), idKey: keys.idKey.toString('base64'), indexKey: keys.indexKey.toString('base64') };
}

/** Parses and opens a stored config: untrusted bytes, every field checked. E_WRONG_KEY when no secret opens it. */
export function readConfig(bytes: Buffer, keyRing: KeyRing, what: string): RepositoryKeys {
  const bad = (problem: string): FailsafeError => new FailsafeError('E_CORRUPT', `${what}: not a valid repository config (${problem})`);
  if (bytes.length > MAX_CONFIG) throw bad(`${bytes.length} bytes`);
  let config: Partial<StoredConfig>;
  try {
    config = JSON.parse(bytes.toString('utf8')) as Partial<StoredConfig>;
  } catch {
    throw bad('not JSON');
  }
  if (config?.format !== 2)
    throw new FailsafeError('E_UNSUPPORTED_FORMAT', `${what}: repository format ${String(config?.format)} is not known to this version`);
  if (typeof config.id !== 'string' || !/^[0-9a-f]{32}$/.test(config.id) || !Array.isArray(config.slots) || typeof config.keys !== 'string')
    throw bad('its fields');
  const master = keyRing.open(config.slots);
  const sealed = decodeBase64(config.keys);
  if (sealed === undefined) throw bad('its sealed keys');
  let keys: Record<string, unknown>;
  try {
    keys = JSON.parse(new SecretstreamCipher(master).decrypt(sealed, CONTEXT).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof FailsafeError) throw new FailsafeError(err.code, `${what}: ${err.message}`, { cause: err });
    throw bad('its sealed keys');
  }
  const key = (name: string): Buffer => {
    const value = (typeof keys[name] === 'string' && decodeBase64(keys[name])) || Buffer.alloc(0);
    if (value.length !== 32) throw bad(name);
    return value;
  };
  if (keys.id !== config.id) throw bad('the sealed id differs from the public one');
  return { id: config.id, gearKey: key('gearKey'), idKey: key('idKey'), indexKey: key('indexKey') };
}
