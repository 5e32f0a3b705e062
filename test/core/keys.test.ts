import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyRing, readKeyFile, writeNewKeyFile } from '../../core/crypto/keys.js';
import { isFailsafeError } from '../../core/errors.js';

const key = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

describe('key slots', () => {
  it('opens a data key with the passphrase and fails with E_WRONG_KEY on another', async () => {
    const ring = await KeyRing.create({ passphrase: 'correct horse' });
    const dataKey = ring.newDataKey();
    const slots = ring.seal(dataKey);
    expect(slots).toHaveLength(1);
    expect(slots[0]!.type).toBe('passphrase');
    expect(Buffer.from((await KeyRing.create({ passphrase: 'correct horse' })).open(slots)).equals(Buffer.from(dataKey))).toBe(true);
    const wrong = await KeyRing.create({ passphrase: 'battery staple' });
    expect(() => wrong.open(slots)).toThrow(/wrong key or corrupted data/);
  });

  it('any one of passphrase and key file opens a snapshot sealed for both', async () => {
    const both = await KeyRing.create({ passphrase: 'pw', keyFileKey: key(1) });
    const dataKey = both.newDataKey();
    const slots = both.seal(dataKey);
    expect(slots.map((s) => s.type).sort()).toEqual(['keyfile', 'passphrase']);
    const byFile = (await KeyRing.create({ keyFileKey: key(1) })).open(slots);
    const byPass = (await KeyRing.create({ passphrase: 'pw' })).open(slots);
    expect(Buffer.from(byFile)).toEqual(Buffer.from(dataKey));
    expect(Buffer.from(byPass)).toEqual(Buffer.from(dataKey));
    await expect(KeyRing.create({ keyFileKey: key(2) }).then((r) => r.open(slots))).rejects.toSatisfy((e) => isFailsafeError(e, 'E_WRONG_KEY'));
  });

  it('names the missing kind of secret', async () => {
    const slots = (await KeyRing.create({ keyFileKey: key(3) })).seal(key(9));
    const ring = await KeyRing.create({ passphrase: 'pw' });
    expect(() => ring.open(slots)).toThrow(/opens with a key file/);
  });

  it('refuses absurd Argon2id limits from a forged slot', async () => {
    const ring = await KeyRing.create({ passphrase: 'pw', kdf: 'interactive' });
    const slots = ring.seal(key(5));
    const forged = (kdf: Partial<{ opslimit: number; memlimit: number }>) =>
      slots.map((s) => (s.type === 'passphrase' ? { ...s, kdf: { ...s.kdf, ...kdf } } : s));
    // 4 GiB of memory, 1 GiB for 16 passes, and below the floor: refused before anything is derived.
    for (const limits of [{ memlimit: 4 * 1024 ** 3 }, { memlimit: 1024 ** 3, opslimit: 16 }, { memlimit: 8 * 1024 ** 2 }, { opslimit: 1 }]) {
      expect(() => ring.open(forged(limits)), JSON.stringify(limits)).toThrow(/Argon2id limits/);
    }
  });

  it('new passphrase slots use libsodium moderate limits (256 MiB, 3 passes), interactive when configured; old slots still open', async () => {
    const kdfOf = (slots: ReturnType<KeyRing['seal']>) => (slots[0] as { kdf: { opslimit: number; memlimit: number } }).kdf;
    const strong = await KeyRing.create({ passphrase: 'pw' });
    const dataKey = strong.newDataKey();
    const slots = strong.seal(dataKey);
    expect(kdfOf(slots)).toMatchObject({ opslimit: 3, memlimit: 256 * 1024 ** 2 });
    const small = await KeyRing.create({ passphrase: 'pw', kdf: 'interactive' });
    const old = small.seal(dataKey);
    expect(kdfOf(old)).toMatchObject({ opslimit: 2, memlimit: 64 * 1024 ** 2 });
    // A slot records its limits: one written with the old (interactive) limits opens in a ring that seals with moderate ones, and back.
    expect(Buffer.from(strong.open(old))).toEqual(Buffer.from(dataKey));
    expect(Buffer.from(small.open(slots))).toEqual(Buffer.from(dataKey));
  });

  it('needs at least one secret', async () => {
    await expect(KeyRing.create({})).rejects.toSatisfy((e) => isFailsafeError(e, 'E_KEY_MISSING'));
    await expect(KeyRing.create({ passphrase: '' })).rejects.toSatisfy((e) => isFailsafeError(e, 'E_KEY_MISSING'));
  });
});

describe('which key sets a ring accepts', () => {
  it('a secret that opens a slot, or a recipient with a slot; sealing then reuses the opened salt', async () => {
    const { getSodium } = await import('../../core/crypto/sodium.js');
    const sodium = await getSodium();
    const pair = (): Uint8Array => sodium.crypto_box_keypair().publicKey;
    const [alice, bob] = [pair(), pair()];
    const old = (await KeyRing.create({ passphrase: 'pw', recipients: [alice] })).seal(new Uint8Array(32));

    const same = await KeyRing.create({ passphrase: 'pw' });
    expect(same.accepts(old)).toBe(true);
    // Limits as the ring's own: the salt derived to open the slot is reused for sealing.
    const salt = (slots: ReturnType<KeyRing['seal']>): unknown => slots.find((s) => s.type === 'passphrase')!;
    expect(salt(same.seal(same.newDataKey()))).toMatchObject({ kdf: { salt: (salt(old) as { kdf: { salt: string } }).kdf.salt } });

    expect((await KeyRing.create({ passphrase: 'typo' })).accepts(old)).toBe(false);
    expect((await KeyRing.create({ recipients: [bob, alice] })).accepts(old)).toBe(true);
    expect((await KeyRing.create({ recipients: [bob] })).accepts(old)).toBe(false);
    expect((await KeyRing.create({ keyFileKey: key(3) })).accepts(old)).toBe(false);
  });
});

describe('key files', () => {
  it('keygen writes 32 random bytes (base64) with mode 0600 and never overwrites', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-key-'));
    const path = join(dir, 'k');
    await writeNewKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const first = await readKeyFile(path);
    expect(first).toHaveLength(32);
    await expect(writeNewKeyFile(path)).rejects.toSatisfy((e) => isFailsafeError(e, 'E_EXISTS'));
    expect(Buffer.from(await readKeyFile(path))).toEqual(Buffer.from(first));
    const other = join(dir, 'k2');
    await writeNewKeyFile(other);
    expect(await readFile(other, 'utf8')).not.toEqual(await readFile(path, 'utf8'));
  });

  it('a key file in a folder that does not exist is a usage error naming it, not a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-key-'));
    const path = join(dir, 'no-such-folder', 'k');
    await expect(writeNewKeyFile(path)).rejects.toSatisfy(
      (e) => isFailsafeError(e, 'E_USAGE') && (e as Error).message === `cannot create ${path}: its folder does not exist`,
    );
    const file = join(dir, 'a-file');
    await writeNewKeyFile(file);
    await expect(writeNewKeyFile(join(file, 'k'))).rejects.toSatisfy((e) => isFailsafeError(e, 'E_USAGE'));
  });

  it('accepts 32 raw bytes and rejects anything else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-key-'));
    await writeFile(join(dir, 'raw'), Buffer.alloc(32, 1));
    expect(await readKeyFile(join(dir, 'raw'))).toHaveLength(32);
    await writeFile(join(dir, 'short'), 'abc');
    await expect(readKeyFile(join(dir, 'short'))).rejects.toSatisfy((e) => isFailsafeError(e, 'E_INVALID_KEY'));
    await expect(readKeyFile(join(dir, 'missing'))).rejects.toSatisfy((e) => isFailsafeError(e, 'E_KEY_MISSING'));
  });
});
