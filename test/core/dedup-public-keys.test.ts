/**
 * A write-only host (public keys only, and a dedup key file) deduplicates
 * against the repository, yet cannot read a pack — another run's or, once
 * the run is over, its own; a holder of an identity restores everything.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { DirectorySource } from '../../plugins/directory/directory.js';
import { createSegmentCodec } from '../../core/codec/compression.js';
import { newIdentity } from '../../core/crypto/identity.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { SecretstreamCipher } from '../../core/crypto/segment-cipher.js';
import { backupDeduplicated } from '../../core/dedup/backup.js';
import { pruneDeduplicated } from '../../core/dedup/prune.js';
import { restoreDeduplicated } from '../../core/dedup/restore.js';
import { isFailsafeError } from '../../core/errors.js';
import { loadIndex } from '../../core/pack/load-index.js';
import { readPackHeader } from '../../core/pack/read-header.js';
import { openRepositoryKeys } from '../../core/pack/repository-config.js';
import { Storage } from '../../core/repository/storage.js';
import { tree } from '../helpers/tree.js';

const codec = createSegmentCodec('zstd', 1);
const SIZES = { min: 4096, avg: 16_384, max: 65_536 };

describe('deduplication on a write-only host', () => {
  it('dedups against the repository, cannot open any pack, and an identity restores', async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-pk-'));
    const data = join(root, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.bin'), randomBytes(400_000));
    await writeFile(join(data, 'b.txt'), 'hello\n'.repeat(20_000));
    const storage = new Storage(new LocalAdapter({ path: join(root, 'target') }), 'disk');
    const identity = await newIdentity();
    const dedupKey = randomBytes(32);
    const host = await KeyRing.create({ recipients: [identity.publicKey], keyFileKey: dedupKey });
    const run = (): ReturnType<typeof backupDeduplicated> =>
      backupDeduplicated({
        job: 'app',
        sources: [new DirectorySource({ path: data }, 'data')],
        storage,
        keyRing: host,
        codec,
        sizes: SIZES,
        packSize: 128 * 1024,
        writeOnly: true,
      });

    const first = await run();
    expect(first.stats.newChunks).toBeGreaterThan(5);
    // The second run reads the index (the index key is the host's) and stores nothing again.
    const second = await run();
    expect(second.stats.newChunks).toBe(0);

    // No pack opens with what the host holds: the run keys are sealed for the recipients alone.
    const open = (slots: Parameters<KeyRing['open']>[0]): SecretstreamCipher => new SecretstreamCipher(host.open(slots));
    let packs = 0;
    for await (const object of storage.list('packs/')) {
      packs++;
      const error = await readPackHeader(storage, object.key, open).catch((err: unknown) => err);
      expect(isFailsafeError(error, 'E_WRONG_KEY')).toBe(true);
    }
    expect(packs).toBeGreaterThan(1);
    // The index it dedups against names the chunks, not their content.
    const { keys } = await openRepositoryKeys(storage, host);
    expect((await loadIndex(storage, new SecretstreamCipher(keys.indexKey))).index.size).toBe(first.stats.newChunks);

    // The host can still prune: reference lists are sealed with the index key.
    const later = new Date(Date.now() + 7_200_000);
    expect((await pruneDeduplicated({ storage, keyRing: host, forget: [], now: later })).removedPacks).toBe(0);

    // A holder of the identity restores every byte.
    const owner = await KeyRing.create({ identities: [identity] });
    const to = join(root, 'restored');
    await restoreDeduplicated({
      storage,
      keyRing: owner,
      codec,
      job: 'app',
      id: second.id,
      plugins: new Map([['data', new DirectorySource({ path: data }, 'data')]]),
      destination: () => to,
    });
    expect(await tree(to)).toEqual(await tree(data));
  });
});
