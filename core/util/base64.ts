/**
 * Base64 read from a target, strictly: Node's decoder skips characters it
 * does not know and ignores what follows the padding, so a damaged string can
 * decode to the same bytes and the damage pass unseen. Only the one canonical
 * spelling of some bytes is accepted (the damage sweep, docs/security.md).
 */
export function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function isCanonicalBase64(text: string): boolean {
  return decodeBase64(text) !== undefined;
}
