import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePublicKey, newIdentity, parsePublicKey, readIdentity, writeNewIdentity } from '../../core/crypto/identity.js';
import { KeyRing } from '../../core/crypto/keys.js';
import { isFailsafeError } from '../../core/errors.js';

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'failsafe-identity-'));

describe('public keys', () => {
  it('round-trip through their text form', async () => {
    const { publicKey } = await newIdentity();
    const text = encodePublicKey(publicKey);
    expect(text).toMatch(/^failsafe-pk1-[A-Za-z0-9_-]{48}$/);
    expect(Buffer.from(parsePublicKey(text))).toEqual(Buffer.from(publicKey));
  });

  it('refuse a typo, a truncation and a foreign prefix with a message that says which', async () => {
    const text = encodePublicKey((await newIdentity()).publicKey);
    const flipped = text.slice(0, 20) + (text[20] === 'A' ? 'B' : 'A') + text.slice(21);
    expect(() => parsePublicKey(flipped)).toThrow(/typo \(its checksum/);
    expect(() => parsePublicKey(text.slice(0, -3))).toThrow(/truncated or mangled/);
    expect(() => parsePublicKey(`age1${text.slice(13)}`)).toThrow(/starts with "failsafe-pk1-"/);
  });
});

describe('recipient key slots', () => {
  it('seal for every recipient; each identity opens, a stranger gets E_WRONG_KEY, no identity names what is needed', async () => {
    const alice = await newIdentity();
    const bob = await newIdentity();
    const host = await KeyRing.create({ recipients: [alice.publicKey, bob.publicKey] });
    const dataKey = host.newDataKey();
    const slots = host.seal(dataKey);
    expect(slots.map((s) => s.type)).toEqual(['recipient', 'recipient']);
    for (const identity of [alice, bob]) {
      expect(Buffer.from((await KeyRing.create({ identities: [identity] })).open(slots))).toEqual(Buffer.from(dataKey));
    }
    // The backup host's own ring holds no private key: it cannot open what it wrote.
    expect(() => host.open(slots)).toThrow(/opens with an identity \(--identity FILE\)/);
    const stranger = await KeyRing.create({ identities: [await newIdentity()] });
    expect(() => stranger.open(slots)).toThrow(/wrong key or corrupted data \(tried the identity\)/);
  });

  it('combine with a passphrase: either opens', async () => {
    const alice = await newIdentity();
    const ring = await KeyRing.create({ passphrase: 'pw', recipients: [alice.publicKey] });
    const dataKey = ring.newDataKey();
    const slots = ring.seal(dataKey);
    expect(slots.map((s) => s.type)).toEqual(['passphrase', 'recipient']);
    expect(Buffer.from((await KeyRing.create({ passphrase: 'pw' })).open(slots))).toEqual(Buffer.from(dataKey));
    expect(Buffer.from((await KeyRing.create({ identities: [alice] })).open(slots))).toEqual(Buffer.from(dataKey));
  });

  it('an identity alone cannot seal a snapshot', async () => {
    const ring = await KeyRing.create({ identities: [await newIdentity()] });
    expect(() => ring.seal(ring.newDataKey())).toThrow(/nothing to seal/);
  });
});

describe('identity files', () => {
  it('are written with mode 0600, never overwritten, and read back to the printed public key', async () => {
    const path = join(await tempDir(), 'id');
    const publicKey = await writeNewIdentity(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(encodePublicKey((await readIdentity(path)).publicKey)).toBe(publicKey);
    await expect(writeNewIdentity(path)).rejects.toSatisfy((e) => isFailsafeError(e, 'E_EXISTS'));
  });

  it('protected by a passphrase: the secret key is not in the file; the wrong or a missing passphrase is refused', async () => {
    const path = join(await tempDir(), 'id');
    const publicKey = await writeNewIdentity(path, 'open sesame');
    const file = JSON.parse(await readFile(path, 'utf8'));
    expect(file.secretKey).toBeUndefined();
    expect(file.kdf.alg).toBe('argon2id13');
    expect(encodePublicKey((await readIdentity(path, 'open sesame')).publicKey)).toBe(publicKey);
    await expect(readIdentity(path, 'close sesame')).rejects.toSatisfy((e) => isFailsafeError(e, 'E_WRONG_KEY'));
    await expect(readIdentity(path)).rejects.toSatisfy((e) => isFailsafeError(e, 'E_KEY_MISSING'));
  });

  it('refuse a file whose secret key does not match its public key, and non-identities', async () => {
    const dir = await tempDir();
    const path = join(dir, 'id');
    await writeNewIdentity(path);
    const file = JSON.parse(await readFile(path, 'utf8'));
    file.publicKey = encodePublicKey((await newIdentity()).publicKey);
    await writeFile(path, JSON.stringify(file));
    await expect(readIdentity(path)).rejects.toThrow(/does not match its public key/);
    await writeFile(join(dir, 'key'), Buffer.alloc(32, 1).toString('base64'));
    await expect(readIdentity(join(dir, 'key'))).rejects.toSatisfy((e) => isFailsafeError(e, 'E_INVALID_KEY'));
  });
});
