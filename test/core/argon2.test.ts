import sodium from 'libsodium-wrappers-sumo';
import { describe, expect, it } from 'vitest';
import { argon2id } from '../../core/crypto/argon2.js';
import { isFailsafeError } from '../../core/errors.js';

describe('Argon2id on its own thread', () => {
  it('derives the same key as libsodium on the calling thread', async () => {
    await sodium.ready;
    for (const [passphrase, saltByte, ops, mem] of [
      ['correct horse', 1, 2, 8 << 20],
      ['', 9, 3, 16 << 20],
      ['ünïcødé 🔑', 200, 1, 8 << 20],
    ] as const) {
      const salt = new Uint8Array(16).fill(saltByte);
      const expected = sodium.crypto_pwhash(32, passphrase, salt, ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13);
      expect(Buffer.from(argon2id(32, passphrase, salt, ops, mem)).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    }
    // A different salt gives a different key (the comparison above is not between two constants).
    const a = argon2id(32, 'p', new Uint8Array(16).fill(1), 1, 8 << 20);
    const b = argon2id(32, 'p', new Uint8Array(16).fill(2), 1, 8 << 20);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it("reports libsodium's refusal as E_INTERNAL with its message instead of hanging", () => {
    let caught: unknown;
    try {
      argon2id(32, 'p', new Uint8Array(16), 0, 8 << 20); // opslimit below libsodium's minimum
    } catch (err) {
      caught = err;
    }
    expect(isFailsafeError(caught, 'E_INTERNAL')).toBe(true);
    expect((caught as Error).message).toMatch(/Argon2id thread failed: .+/);
  });
});
