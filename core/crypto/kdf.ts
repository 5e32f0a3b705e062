/** What the key slots and identity files share: the Argon2id limits and the base64 of their fields. */

/** Interactive Argon2id limits: ~0.2 s and 64 MiB here, so memory stays bounded during backups. */
export const DEFAULT_KDF = { opslimit: 2, memlimit: 64 * 1024 * 1024 };

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function unb64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
