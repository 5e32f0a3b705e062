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

/** Snapshot `id` of job app restores, bit-identical to `data` as it is now. */
async function expectRestores(storage: Storage, keyRing: KeyRing, id: string, data: string, to: string): Promise<void> {
  const plugins = new Map([['data', new DirectorySource({ path: data }, 'data')]]);
  await restoreDeduplicated({ storage, keyRing, job: 'app', id, plugins, destination: () => to });
  expect(await tree(to)).toEqual(await tree(data));
}

/** A data folder of `files`, a local target, and a write-only host (recipients and a dedup key file) backing it up. */
async function writeOnlyHost(packSize: number, files: Record<string, Buffer | string>) {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-dedup-pk-'));
  const data = join(root, 'data');
  await mkdir(data);
  for (const [name, content] of Object.entries(files)) await writeFile(join(data, name), content);
  const storage = new Storage(new LocalAdapter({ path: join(root, 'target') }), 'disk');
  const identity = await newIdentity();
  const dedupKey = randomBytes(32);
  const host = await KeyRing.create({ recipients: [identity.publicKey], keyFileKey: dedupKey });
  const sources = [new DirectorySource({ path: data }, 'data')];
  const run = (): ReturnType<typeof backupDeduplicated> =>
    backupDeduplicated({ job: 'app', sources, storage, keyRing: host, codec, sizes: SIZES, packSize, writeOnly: true });
  return { root, data, storage, identity, dedupKey, host, run };
}

describe('deduplication on a write-only host', () => {
  it('dedups against the repository, cannot open any pack, and an identity restores', async () => {
    const { root, data, storage, identity, host, run } = await writeOnlyHost(128 * 1024, {
      'a.bin': randomBytes(400_000),
      'b.txt': 'hello\n'.repeat(20_000),
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
    await expectRestores(storage, owner, second.id, data, join(root, 'restored'));
  });

  it('a write-only host prunes but leaves partly used packs whole; the owner repacks them, still sealed for recipients alone', async () => {
    const { root, data, storage, identity, dedupKey, host, run } = await writeOnlyHost(4 << 20, {
      'kept.bin': randomBytes(300_000),
      'replaced.bin': randomBytes(300_000),
    });
    const first = await run();
    await writeFile(join(data, 'replaced.bin'), randomBytes(300_000));
    const second = await run();
    const later = new Date(Date.now() + 7_200_000);
    // The first run's packs hold chunks of both files: the second snapshot uses about half of them.
    const byHost = await pruneDeduplicated({ storage, keyRing: host, forget: [`app/${first.id}`], now: later, writeOnly: true });
    expect(byHost).toMatchObject({ repacked: 0, repackedPacks: 0 });
    expect(byHost.notRepacked).toBeGreaterThan(0);

    const owner = await KeyRing.create({ identities: [identity], recipients: [identity.publicKey], keyFileKey: dedupKey });
    const byOwner = await pruneDeduplicated({ storage, keyRing: owner, forget: [], now: later, writeOnly: true });
    expect(byOwner).toMatchObject({ removedPacks: byHost.notRepacked, repacked: byHost.notRepacked, notRepacked: 0 });
    expect(byOwner.removedBytes - byOwner.repackedBytes).toBeGreaterThan(250_000);
    const open = (slots: Parameters<KeyRing['open']>[0]): SecretstreamCipher => new SecretstreamCipher(host.open(slots));
    for await (const object of storage.list('packs/')) {
      const error = await readPackHeader(storage, object.key, open).catch((err: unknown) => err);
      expect(isFailsafeError(error, 'E_WRONG_KEY'), object.key).toBe(true);
    }
    await expectRestores(storage, owner, second.id, data, join(root, 'restored'));
  });
});
