/** A v2 repository's config: written once, opened by every secret of the deployment, and by nothing else. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { newIdentity } from '../../core/crypto/identity.js';
import { isFailsafeError } from '../../core/errors.js';
import { CONFIG_KEY, openRepositoryKeys } from '../../core/pack/repository-config.js';
import { Storage } from '../../core/repository/storage.js';

const code = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'opened',
    (err: unknown) => (isFailsafeError(err) ? err.code : String(err)),
  );

describe('repository config (format v2)', () => {
  it('is written by the first backup and opened with the same keys afterwards', async () => {
    const storage = new Storage(new MemoryAdapter(), 't');
    const keyFileKey = randomBytes(32);
    const first = await openRepositoryKeys(storage, await KeyRing.create({ keyFileKey }));
    expect(first.created).toBe(true);
    const again = await openRepositoryKeys(storage, await KeyRing.create({ keyFileKey }));
    expect(again.created).toBe(false);
    expect(again.keys).toEqual(first.keys);
    expect(new Set([first.keys.gearKey, first.keys.idKey, first.keys.indexKey].map(String)).size).toBe(3);
    // Nothing of the keys is readable without a secret.
    const stored = (await storage.getBuffer(CONFIG_KEY)).toString();
    for (const key of [first.keys.gearKey, first.keys.idKey, first.keys.indexKey]) expect(stored).not.toContain(key.toString('base64'));
  });

  it('a wrong secret is E_WRONG_KEY; damage is E_CORRUPT; a later format is E_UNSUPPORTED_FORMAT', async () => {
    const storage = new Storage(new MemoryAdapter(), 't');
    await openRepositoryKeys(storage, await KeyRing.create({ keyFileKey: randomBytes(32) }));
    expect(await code(openRepositoryKeys(storage, await KeyRing.create({ keyFileKey: randomBytes(32) })))).toBe('E_WRONG_KEY');
    const stored = JSON.parse((await storage.getBuffer(CONFIG_KEY)).toString()) as Record<string, unknown>;
    const ring = await KeyRing.create({ keyFileKey: randomBytes(32) });
    await storage.put(CONFIG_KEY, Buffer.from(JSON.stringify({ ...stored, format: 3 })));
    expect(await code(openRepositoryKeys(storage, ring))).toBe('E_UNSUPPORTED_FORMAT');
    await storage.put(CONFIG_KEY, Buffer.from('{"format":2,"id":"xyz"'));
    expect(await code(openRepositoryKeys(storage, ring))).toBe('E_CORRUPT');
  });

  it('a write-only host opens it with its dedup key file; an identity opens it too; recipients alone do not', async () => {
    const storage = new Storage(new MemoryAdapter(), 't');
    const identity = await newIdentity();
    const dedupKey = randomBytes(32);
    const host = await KeyRing.create({ recipients: [identity.publicKey], keyFileKey: dedupKey });
    const { keys } = await openRepositoryKeys(storage, host);
    expect((await openRepositoryKeys(storage, await KeyRing.create({ recipients: [identity.publicKey], keyFileKey: dedupKey }))).keys).toEqual(keys);
    expect((await openRepositoryKeys(storage, await KeyRing.create({ identities: [identity] }))).keys).toEqual(keys);
    expect(await code(openRepositoryKeys(storage, await KeyRing.create({ recipients: [identity.publicKey] })))).toBe('E_WRONG_KEY');
  });
});
